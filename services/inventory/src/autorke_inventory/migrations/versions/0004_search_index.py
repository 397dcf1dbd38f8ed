"""Free-text search on the Machines page: an index of (search, id), so a search scans the
small index instead of every machine row and the page reads only the rows that match.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_machines_search_id", "machines", ["search", "id"])


def downgrade() -> None:
    op.drop_index("ix_machines_search_id", table_name="machines")
