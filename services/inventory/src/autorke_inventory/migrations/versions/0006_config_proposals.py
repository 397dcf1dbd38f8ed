"""Config proposals: a config write made through the REST API waits here, sealed, for the
change that previews and adopts it (config.update, config.import).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config_proposals",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cluster", sa.String(63), sa.ForeignKey("clusters.name"), nullable=False, index=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("kinds", sa.JSON, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("change_id", sa.String(64), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("base", sa.JSON, nullable=True),
        sa.Column("preview", sa.JSON, nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("config_proposals")
