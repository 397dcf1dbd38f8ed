"""The orchestrator service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

Changes, steps and per-target results are the saga's state; ``jobs`` records every order
sent (the anchor of "no job runs twice"); ``machine_locks`` and ``cluster_locks`` are the
locks, made exclusive by their primary keys; ``machines`` and ``clusters`` are the read
model built from the inventory's events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.orm import json_field, time_field
from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every orchestrator table."""


class ChangeRow(Table, table=True):
    __tablename__ = "changes"
    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64, index=True)
    cluster: str | None = Field(default=None, max_length=128, index=True)
    targets: list = json_field(list, nullable=True)
    params: dict = json_field(dict, nullable=True)
    requested_by: str = Field(max_length=255)
    policy: str = Field(max_length=16)
    status: str = Field(max_length=32, index=True)
    closed: bool = Field(default=False, index=True)
    cancel_requested: bool = False
    problem: str | None = Field(default=None, max_length=64)
    problem_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    waiting_for: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dropped: list = json_field(list, nullable=True)
    blast_hosts: list = json_field(list, nullable=True)
    blast_components: list = json_field(list, nullable=True)
    config_diff: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    warnings: list = json_field(list, nullable=True)
    endpoints: dict = json_field(dict, nullable=True)
    #: the ordinal of the last lifecycle mark the change made (each next one is larger)
    last_mark: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0, server_default="0"))
    created_at: datetime = time_field()
    updated_at: datetime = time_field()
    version: int = 0


class StepRow(Table, table=True):
    __tablename__ = "steps"
    change_id: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=255)
    kind: str = Field(max_length=16)
    position: int
    status: str = Field(max_length=32)
    attempt: int = 0
    job_id: str | None = Field(default=None, max_length=160)
    undo_status: str | None = Field(default=None, max_length=16)
    undo_attempt: int = 0
    started_at: datetime | None = time_field(nullable=True)
    finished_at: datetime | None = time_field(nullable=True)


class TargetRow(Table, table=True):
    __tablename__ = "step_targets"
    change_id: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(primary_key=True, max_length=64)
    host: str = Field(primary_key=True, max_length=255)
    status: str = Field(max_length=16)
    attempt: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_class: str | None = Field(default=None, max_length=32)
    result: dict = json_field(dict, nullable=True)
    undo_status: str | None = Field(default=None, max_length=16)


class ApprovalRow(Table, table=True):
    __tablename__ = "approvals"
    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    decision: str = Field(max_length=16)
    by: str = Field(max_length=255)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    at: datetime = time_field()
    automatic: bool = False


class HistoryRow(Table, table=True):
    __tablename__ = "change_history"
    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=64, index=True)
    at: datetime = time_field()
    actor: str = Field(max_length=255)
    action: str = Field(max_length=32)
    step_id: str | None = Field(default=None, max_length=64)
    result: str = Field(max_length=64)
    detail: dict = json_field(dict, nullable=True)


class JobRow(Table, table=True):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_open", "finished_at", "sent_at"),)
    job_id: str = Field(primary_key=True, max_length=160)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    purpose: str = Field(max_length=8)
    attempt: int
    service: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    action: str = Field(max_length=64)
    hosts: list = json_field(list, nullable=True)
    sent_at: datetime = time_field()
    #: seconds the job may take from sent_at (its deadline, with the grace, H3)
    budget_s: float | None = None
    #: set by the deadline check once it looked at the job after its deadline
    finished_at: datetime | None = time_field(nullable=True)


class MachineLockRow(Table, table=True):
    __tablename__ = "machine_locks"
    host: str = Field(primary_key=True, max_length=255)
    change_id: str = Field(max_length=64, index=True)
    acquired_at: datetime = time_field()


class ClusterLockRow(Table, table=True):
    __tablename__ = "cluster_locks"
    cluster: str = Field(primary_key=True, max_length=128)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    acquired_at: datetime = time_field()


class MachineViewRow(Table, table=True):
    __tablename__ = "machines"
    id: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(max_length=255, index=True, unique=True)
    ip: str | None = Field(default=None, max_length=64)
    cluster: str | None = Field(default=None, max_length=128, index=True)
    roles: list = json_field(list, nullable=True)
    state: str = Field(default="available", max_length=32)
    labels: dict = json_field(dict, nullable=True)
    taints: list = json_field(list, nullable=True)
    k8s_components: list = json_field(list, nullable=True)
    ssh: dict = json_field(dict, nullable=True)
    #: the CMDB facts node labels come from: rack, idc, gpu_model, gpu_count
    facts: dict | None = json_field(nullable=True)
    updated_at: datetime = time_field()


class ClusterViewRow(Table, table=True):
    __tablename__ = "clusters"
    name: str = Field(primary_key=True, max_length=128)
    provider: str = Field(max_length=16)
    api_endpoint: str | None = Field(default=None, max_length=255)
    kubeconfig_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    join_token_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    join_address: str | None = Field(default=None, max_length=255)
    #: kind -> {"version", "sealed"}: the latest cluster.yml / cluster.rkestate (sealed)
    configs_sealed: dict | None = json_field(nullable=True)
    bastion: str | None = Field(default=None, max_length=255)
    #: "<kind>/<name>" -> {"version", "spec"}: the latest node profiles and label mapping
    documents: dict | None = json_field(nullable=True)
    updated_at: datetime = time_field()


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
