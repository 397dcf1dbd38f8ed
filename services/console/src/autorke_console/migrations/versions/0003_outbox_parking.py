"""Outbox rows that can never be published are parked, not retried forever (H7:
``autorke_common.outbox.add_outbox_parking_op``).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from autorke_common.outbox import add_outbox_parking_op, drop_outbox_parking_op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking_op(op)


def downgrade() -> None:
    drop_outbox_parking_op(op)
