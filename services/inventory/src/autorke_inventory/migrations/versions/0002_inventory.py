"""Machines, clusters, memberships (one per machine: P1), config versions, sync cursors,
executor jobs.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "machines",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("hostname", sa.String(253), nullable=False, unique=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rack", sa.String(64), nullable=True),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("gpu_model", sa.String(128), nullable=True),
        sa.Column("gpu_count", sa.Integer, nullable=False),
        sa.Column("search", sa.String(600), nullable=False),
        sa.Column("cmdb", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=True),
        sa.Column("facts", sa.JSON, nullable=True),
        sa.Column("facts_at", TS, nullable=True),
        sa.Column("conflicts", sa.JSON, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_machines_ip", "machines", ["ip"])
    op.create_index("ix_machines_state_hostname", "machines", ["state", "hostname"])
    op.create_index("ix_machines_rack_hostname", "machines", ["rack", "hostname"])
    op.create_index("ix_machines_gpu_hostname", "machines", ["gpu_model", "hostname"])
    op.create_table(
        "clusters",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("provider", sa.String(8), nullable=False),
        sa.Column("api_endpoint", sa.String(255), nullable=True),
        sa.Column("kubeconfig_sealed", sa.Text, nullable=True),
        sa.Column("host_networks", sa.JSON, nullable=False),
        sa.Column("pod_cidr", sa.String(64), nullable=False),
        sa.Column("service_cidr", sa.String(64), nullable=False),
        sa.Column("bgp_as", sa.BigInteger, nullable=True),
        sa.Column("bastion", sa.JSON, nullable=True),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "memberships",
        # the primary key IS the P1 guard: one membership row, one cluster, per machine
        sa.Column("machine_id", sa.String(64), sa.ForeignKey("machines.id"), primary_key=True),
        sa.Column("cluster", sa.String(63), sa.ForeignKey("clusters.name"), nullable=False),
        sa.Column("roles", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("taints", sa.JSON, nullable=False),
        sa.Column("change_id", sa.String(64), nullable=True),
        sa.Column("since", TS, nullable=False),
    )
    op.create_index("ix_memberships_cluster", "memberships", ["cluster"])
    op.create_table(
        "config_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cluster", sa.String(63), sa.ForeignKey("clusters.name"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("sealed", sa.Boolean, nullable=False),
        sa.Column("content_hash", sa.String(80), nullable=False),
        sa.Column("change_id", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("rollback_of", sa.Integer, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("cluster", "kind", "version", name="uq_config_version"),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("last_full_at", TS, nullable=True),
        sa.Column("last_sync_at", TS, nullable=True),
    )
    op.create_table(
        "executor_jobs",
        sa.Column("job_id", sa.String(80), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("cluster", sa.String(63), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("report", sa.JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )


def downgrade() -> None:
    for table in ("executor_jobs", "sync_cursors", "config_versions", "memberships", "clusters",
                  "machines"):
        op.drop_table(table)
