"""The inventory service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

The P1 rule lives here as a constraint, not only in code: ``memberships.machine_id`` is
the table's primary key, so a machine has at most one membership row — one cluster — and
two concurrent placements of one machine cannot both commit.

Indexes serve the console's Machines page (filters by state, rack, GPU model, cluster,
free text; keyset pagination on (sort column, id))."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.orm import json_field, time_field
from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every inventory table."""


class MachineRow(Table, table=True):
    __tablename__ = "machines"
    __table_args__ = (
        Index("ix_machines_hostname_key", "hostname_key", "id"),
        Index("ix_machines_state_hostname_key", "state", "hostname_key", "id"),
        Index("ix_machines_rack_hostname_key", "rack", "hostname_key", "id"),
        Index("ix_machines_gpu_hostname_key", "gpu_model", "hostname_key", "id"),
        Index("ix_machines_search_id", "search", "id"),  # free text: scan this, not the rows
    )
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    source: str = Field(sa_column=Column(String(32), nullable=False))
    hostname: str = Field(sa_column=Column(String(253), nullable=False, unique=True))
    #: the hostname in natural order (``m2`` before ``m10``): :func:`..domain.records.natural_key`
    hostname_key: str = Field(sa_column=Column(String(400), nullable=False))
    ip: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    rack: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    site: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    gpu_model: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    gpu_count: int = 0
    search: str = Field(sa_column=Column(String(600), nullable=False))
    cmdb: dict = json_field()
    fingerprint: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    facts: dict | None = json_field(nullable=True)
    facts_at: datetime | None = time_field(nullable=True)
    conflicts: list | None = json_field(nullable=True)
    #: the last lifecycle mark applied: its change and ordinal (marks of one change arrive in any order)
    mark_change: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    mark_ordinal: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    version: int = 1
    created_at: datetime = time_field()
    updated_at: datetime = time_field()


class ClusterRow(Table, table=True):
    __tablename__ = "clusters"
    name: str = Field(sa_column=Column(String(63), primary_key=True))
    provider: str = Field(sa_column=Column(String(8), nullable=False))
    api_endpoint: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    kubeconfig_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    join_address: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    join_token_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    host_networks: list = json_field()
    pod_cidr: str = Field(sa_column=Column(String(64), nullable=False))
    service_cidr: str = Field(sa_column=Column(String(64), nullable=False))
    bgp_as: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # 32-bit ASNs
    bastion: dict | None = json_field(nullable=True)
    options: dict = json_field()
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    version: int = 1
    created_at: datetime = time_field()
    updated_at: datetime = time_field()


class MembershipRow(Table, table=True):
    __tablename__ = "memberships"
    machine_id: str = Field(sa_column=Column(String(64), ForeignKey("machines.id"),
                                             primary_key=True))
    cluster: str = Field(sa_column=Column(String(63), ForeignKey("clusters.name"),
                                          nullable=False, index=True))
    roles: str = Field(sa_column=Column(String(64), nullable=False))  # "controlplane,etcd"
    labels: dict = json_field()
    taints: list = json_field()
    change_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    since: datetime = time_field()
    # the node as its cluster's Kubernetes API last showed it (domain.node_status); all
    # None until the first observation
    node_name: str | None = Field(default=None, sa_column=Column(String(253), nullable=True))
    node_ready: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    node_unschedulable: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    kubelet_version: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    node_detail: dict | None = json_field(nullable=True)  # reason, message, problems, registered
    node_observed_at: datetime | None = time_field(nullable=True)
    node_changed_at: datetime | None = time_field(nullable=True)


class ConfigVersionRow(Table, table=True):
    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("cluster", "kind", "version", name="uq_config_version"),)
    id: int | None = Field(default=None, primary_key=True)
    cluster: str = Field(sa_column=Column(String(63), ForeignKey("clusters.name"), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    version: int
    content: str = Field(sa_column=Column(Text, nullable=False))  # sealed when ``sealed``
    sealed: bool = False
    content_hash: str = Field(sa_column=Column(String(80), nullable=False))
    change_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rollback_of: int | None = None
    created_at: datetime = time_field()


class DocumentVersionRow(Table, table=True):
    """A version of one of a cluster's node documents (``kind`` ``node-profile`` or
    ``label-mapping``, :mod:`autorke_common.node_profiles`): the whole spec, as the model
    normalised it. Versions are numbered per (cluster, kind, name) from 1; the key refuses
    a second writer of the same number."""

    __tablename__ = "node_documents"
    __table_args__ = (UniqueConstraint("cluster", "kind", "name", "version", name="uq_node_document_version"),)
    id: int | None = Field(default=None, primary_key=True)
    cluster: str = Field(sa_column=Column(String(63), ForeignKey("clusters.name"), nullable=False))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    name: str = Field(sa_column=Column(String(63), nullable=False))
    version: int
    spec: dict = json_field()
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = time_field()
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ProposalRow(Table, table=True):
    """A config write waiting for its change (``config.update`` / ``config.import``): the
    content sealed (new options, or an imported cluster.yml and cluster.rkestate), its
    digest, the change it belongs to once bound, the versions its preview diffed against
    (``base``) and that preview (redacted), and whether it was adopted."""

    __tablename__ = "config_proposals"
    id: str = Field(sa_column=Column(String(32), primary_key=True))
    cluster: str = Field(sa_column=Column(String(63), ForeignKey("clusters.name"), nullable=False, index=True))
    type: str = Field(sa_column=Column(String(32), nullable=False))  # config.update | config.import
    kinds: list = json_field()
    content: str = Field(sa_column=Column(Text, nullable=False))  # sealed JSON
    digest: str = Field(sa_column=Column(String(80), nullable=False))
    change_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, unique=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # proposed | adopted
    base: dict | None = json_field(nullable=True)
    preview: dict | None = json_field(nullable=True)
    created_by: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = time_field()
    adopted_at: datetime | None = time_field(nullable=True)


class SyncCursorRow(Table, table=True):
    __tablename__ = "sync_cursors"
    source: str = Field(sa_column=Column(String(64), primary_key=True))
    cursor: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    last_full_at: datetime | None = time_field(nullable=True)
    last_sync_at: datetime | None = time_field(nullable=True)


class JobRow(Table, table=True):
    """Executor jobs the inventory asked for (facts, cluster import) and what became of them."""

    __tablename__ = "executor_jobs"
    job_id: str = Field(sa_column=Column(String(80), primary_key=True))
    purpose: str = Field(sa_column=Column(String(16), nullable=False))  # facts|import|nodes
    cluster: str | None = Field(default=None, sa_column=Column(String(63), nullable=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))  # pending|done|failed
    requested_by: str = Field(sa_column=Column(String(128), nullable=False))
    report: dict | None = json_field(nullable=True)
    created_at: datetime = time_field()
    finished_at: datetime | None = time_field(nullable=True)


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
