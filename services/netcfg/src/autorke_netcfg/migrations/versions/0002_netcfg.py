"""netcfg's own tables: clusters learned from inventory, pool records, tickets, callbacks.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "netcfg_clusters",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("provider", sa.String(32)),
        sa.Column("api_endpoint", sa.String(512)),
        sa.Column("kubeconfig_sealed", sa.Text()),
        sa.Column("host_networks", sa.JSON(), nullable=False),
        sa.Column("pod_cidr", sa.String(64)),
        sa.Column("service_cidr", sa.String(64)),
        sa.Column("bgp_as", sa.BigInteger()),
        sa.Column("source_event", sa.String(64)),
        _when("updated_at"),
    )
    op.create_table(
        "netcfg_pools",
        sa.Column("cluster", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(253), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("drift", sa.JSON()),
        sa.Column("updated_by", sa.String(128)),
        _when("updated_at"),
    )
    op.create_table(
        "netcfg_tickets",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("cluster", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("approved_by", sa.String(128)),
        sa.Column("confirmed_by", sa.String(128)),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("vcalico_ticket_id", sa.String(64)),
        sa.Column("submit_attempts", sa.Integer(), nullable=False),
        sa.Column("callback", sa.JSON()),
        sa.Column("applied", sa.JSON()),
        sa.Column("failure_reason", sa.String(64)),
        sa.Column("failure_detail", sa.Text()),
        _when("created_at"),
        _when("updated_at"),
        _when("submitted_at", nullable=True),
    )
    op.create_index("ix_netcfg_tickets_cluster", "netcfg_tickets", ["cluster"])
    op.create_index("ix_netcfg_tickets_status", "netcfg_tickets", ["status"])
    op.create_table(
        "netcfg_callbacks",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("ticket_id", sa.String(64), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        _when("received_at"),
    )
    op.create_index("ix_netcfg_callbacks_ticket_id", "netcfg_callbacks", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("netcfg_callbacks")
    op.drop_table("netcfg_tickets")
    op.drop_table("netcfg_pools")
    op.drop_table("netcfg_clusters")
