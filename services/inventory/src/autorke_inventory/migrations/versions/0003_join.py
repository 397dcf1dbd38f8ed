"""RKE2 join data of a cluster: the registration address and the node-token (sealed).

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
    op.add_column("clusters", sa.Column("join_token_sealed", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("clusters", "join_token_sealed")
    op.drop_column("clusters", "join_address")
