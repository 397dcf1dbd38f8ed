"""The server-side console sessions (``adapters.orm.SessionRow``).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_digest", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("username", sa.String(255)),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("token_sealed", sa.Text(), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_token_expires_at", "console_sessions", ["token_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_token_expires_at", "console_sessions")
    op.drop_table("console_sessions")
