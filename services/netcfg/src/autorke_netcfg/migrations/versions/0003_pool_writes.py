"""Pool write marks: the write netcfg last began on a pool and, while it is in flight,
when it began, so the drift check never reports netcfg's own write as drift.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("write_id", sa.String(64)),
    ("write_by", sa.String(128)),
    ("write_started_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("netcfg_pools", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("netcfg_pools") as batch:  # SQLite drops columns by copying
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
