"""The job lease (H4): ``owner``, ``lease_expires_at`` and ``fencing_token`` on ``jobs``, so
a job runs in one executor at a time across replicas and a takeover waits for the lease.

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
    op.add_column("jobs", sa.Column("owner", sa.String(255), nullable=True))
    op.add_column("jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("fencing_token", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    op.drop_column("jobs", "fencing_token")
    op.drop_column("jobs", "lease_expires_at")
    op.drop_column("jobs", "owner")
