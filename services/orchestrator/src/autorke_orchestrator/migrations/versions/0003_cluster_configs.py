"""The read model of a cluster keeps what RKE jobs need: the RKE2 join address, and the
latest cluster.yml and cluster.rkestate (sealed, as the inventory's events carry them).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clusters", sa.Column("join_address", sa.String(255), nullable=True))
    op.add_column("clusters", sa.Column("configs_sealed", sa.JSON, nullable=True))


def downgrade() -> None:
    op.drop_column("clusters", "configs_sealed")
    op.drop_column("clusters", "join_address")
