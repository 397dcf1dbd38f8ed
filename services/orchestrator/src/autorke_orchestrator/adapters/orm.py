"""The orchestrator service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

Changes, steps and per-target results are the saga's state; ``jobs`` records every order
sent (the anchor of "no job runs twice"); ``machine_locks`` and ``cluster_locks`` are the
locks, made exclusive by their primary keys; ``machines`` and ``clusters`` are the read
model built from the inventory's events."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every orchestrator table."""


def _json(default: Any = None) -> Any:
    return Field(default_factory=lambda: default() if callable(default) else default,
                 sa_column=Column(JSON, nullable=True))


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class ChangeRow(Table, table=True):
    __tablename__ = "changes"
    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64, index=True)
    cluster: str | None = Field(default=None, max_length=128, index=True)
    targets: list = _json(list)
    params: dict = _json(dict)
    requested_by: str = Field(max_length=255)
    policy: str = Field(max_length=16)
    status: str = Field(max_length=32, index=True)
    closed: bool = Field(default=False, index=True)
    cancel_requested: bool = False
    problem: str | None = Field(default=None, max_length=64)
    problem_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    waiting_for: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dropped: list = _json(list)
    blast_hosts: list = _json(list)
    blast_components: list = _json(list)
    config_diff: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    warnings: list = _json(list)
    endpoints: dict = _json(dict)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
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
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class TargetRow(Table, table=True):
    __tablename__ = "step_targets"
    change_id: str = Field(primary_key=True, max_length=64)
    step_id: str = Field(primary_key=True, max_length=64)
    host: str = Field(primary_key=True, max_length=255)
    status: str = Field(max_length=16)
    attempt: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_class: str | None = Field(default=None, max_length=32)
    result: dict = _json(dict)
    undo_status: str | None = Field(default=None, max_length=16)


class ApprovalRow(Table, table=True):
    __tablename__ = "approvals"
    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    decision: str = Field(max_length=16)
    by: str = Field(max_length=255)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    automatic: bool = False


class HistoryRow(Table, table=True):
    __tablename__ = "change_history"
    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=64, index=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=255)
    action: str = Field(max_length=32)
    step_id: str | None = Field(default=None, max_length=64)
    result: str = Field(max_length=64)
    detail: dict = _json(dict)


class JobRow(Table, table=True):
    __tablename__ = "jobs"
    job_id: str = Field(primary_key=True, max_length=160)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    purpose: str = Field(max_length=8)
    attempt: int
    service: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    action: str = Field(max_length=64)
    hosts: list = _json(list)
    sent_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = _ts()


class MachineLockRow(Table, table=True):
    __tablename__ = "machine_locks"
    host: str = Field(primary_key=True, max_length=255)
    change_id: str = Field(max_length=64, index=True)
    acquired_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ClusterLockRow(Table, table=True):
    __tablename__ = "cluster_locks"
    cluster: str = Field(primary_key=True, max_length=128)
    change_id: str = Field(max_length=64, index=True)
    step_id: str = Field(max_length=64)
    acquired_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class MachineViewRow(Table, table=True):
    __tablename__ = "machines"
    id: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(max_length=255, index=True, unique=True)
    ip: str | None = Field(default=None, max_length=64)
    cluster: str | None = Field(default=None, max_length=128, index=True)
    roles: list = _json(list)
    state: str = Field(default="available", max_length=32)
    labels: dict = _json(dict)
    taints: list = _json(list)
    k8s_components: list = _json(list)
    ssh: dict = _json(dict)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ClusterViewRow(Table, table=True):
    __tablename__ = "clusters"
    name: str = Field(primary_key=True, max_length=128)
    provider: str = Field(max_length=16)
    api_endpoint: str | None = Field(default=None, max_length=255)
    kubeconfig_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    join_token_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    join_address: str | None = Field(default=None, max_length=255)
    #: kind -> {"version", "sealed"}: the latest cluster.yml / cluster.rkestate (sealed)
    configs_sealed: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    bastion: str | None = Field(default=None, max_length=255)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
