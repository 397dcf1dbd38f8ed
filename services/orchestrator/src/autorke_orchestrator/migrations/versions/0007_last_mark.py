"""A change remembers the ordinal of its last lifecycle mark (``last_mark``), so each next
mark is larger whichever replica makes it: the ordinal no longer rests on that replica's clock.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.add_column(sa.Column("last_mark", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("last_mark")
