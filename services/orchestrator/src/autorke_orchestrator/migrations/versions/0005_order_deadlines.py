"""Every order has a deadline (H3): the seconds its job may take (``budget_s``, from the
job's timeout), counted from ``sent_at``; the deadline check closes a job's row
(``finished_at``) once it has looked at it after its deadline.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("budget_s", sa.Float(), nullable=True))
    op.create_index("ix_jobs_open", "jobs", ["finished_at", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_open", "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("budget_s")
