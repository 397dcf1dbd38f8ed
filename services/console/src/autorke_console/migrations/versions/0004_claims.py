"""Claims: the sealed values this service's messages name by reference instead of
carrying them (issue 17, claim-check: ``autorke_common.claims``).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

from autorke_common.outbox import create_claims_table_op, drop_claims_table_op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_claims_table_op(op)


def downgrade() -> None:
    drop_claims_table_op(op)
