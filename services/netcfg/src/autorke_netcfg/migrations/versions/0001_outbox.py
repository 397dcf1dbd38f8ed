"""The outbox and processed-message tables every service has.

Revision ID: 0001
Revises:
"""
from alembic import op

from autorke_common.outbox import create_outbox_tables_op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables_op(op)


def downgrade() -> None:
    op.drop_table("processed_messages")
    op.drop_table("outbox")
