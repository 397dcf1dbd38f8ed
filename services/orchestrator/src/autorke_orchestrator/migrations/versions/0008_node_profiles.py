"""node.add decides each node's labels from its node profile and the CMDB (issue 18): the
read model keeps each machine's label facts (rack, idc, gpu_model, gpu_count) and each
cluster's latest node profiles and label mapping, as the inventory's events announce them.

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
    op.add_column("machines", sa.Column("facts", sa.JSON, nullable=True))
    op.add_column("clusters", sa.Column("documents", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("documents")
    with op.batch_alter_table("machines") as batch:
        batch.drop_column("facts")
