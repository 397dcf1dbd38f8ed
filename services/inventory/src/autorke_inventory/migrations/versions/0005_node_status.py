"""Each member's observed Kubernetes node status (Ready, conditions that are not OK,
kubelet version, cordoned, when observed and when it last changed).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    ("node_name", sa.String(253)),
    ("node_ready", sa.String(8)),
    ("node_unschedulable", sa.Boolean),
    ("kubelet_version", sa.String(64)),
    ("node_detail", sa.JSON),
    ("node_observed_at", sa.DateTime(timezone=True)),
    ("node_changed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column("memberships", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:  # SQLite drops columns by copying
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
