"""A machine remembers the last lifecycle mark applied to it (its change and ordinal), so
one change's marks, handled in any order by replicas or redeliveries, end in the right
state (``membership.transition``).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.add_column(sa.Column("mark_change", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mark_ordinal", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("mark_ordinal")
        batch.drop_column("mark_change")
