"""Open ``ippool.*`` changes: which pool each one will write, so a pool's view shows its
pending change and a second change of the same pool is refused while one is open.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "netcfg_pool_changes",
        sa.Column("change_id", sa.String(64), primary_key=True),
        sa.Column("cluster", sa.String(128), nullable=False),
        sa.Column("pool", sa.String(253), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON()),
        sa.Column("requested_by", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_netcfg_pool_changes_pool", "netcfg_pool_changes", ["cluster", "pool"])


def downgrade() -> None:
    op.drop_index("ix_netcfg_pool_changes_pool", "netcfg_pool_changes")
    op.drop_table("netcfg_pool_changes")
