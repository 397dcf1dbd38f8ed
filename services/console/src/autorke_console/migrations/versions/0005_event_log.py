"""The event log the Events page and the audit view read back (issue 19).

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
    op.create_table(
        "console_event_log",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("cluster", sa.String(63), nullable=True),
        sa.Column("envelope", sa.JSON(), nullable=False),
    )
    op.create_index("ix_console_event_log_time_id", "console_event_log", ["time", "id"])
    op.create_index("ix_console_event_log_correlation", "console_event_log", ["correlation_id", "time"])
    op.create_index("ix_console_event_log_actor", "console_event_log", ["actor", "time"])
    op.create_index("ix_console_event_log_cluster", "console_event_log", ["cluster", "time"])


def downgrade() -> None:
    op.drop_table("console_event_log")
