"""The executor service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

``jobs`` holds one row per job id (the idempotency key) and ``job_targets`` one row per
finished target: a redelivered job skips every host that already has a row here. Job
secrets are never stored."""
from __future__ import annotations

from datetime import datetime

from autorke_common.outbox import add_outbox_tables
from sqlalchemy import JSON, Column, DateTime, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class Table(SQLModel, registry=registry()):
    """Base of every executor table."""


class JobRow(Table, table=True):
    __tablename__ = "jobs"
    job_id: str = Field(primary_key=True, max_length=128)
    change_id: str | None = Field(default=None, max_length=128, index=True)
    kind: str = Field(max_length=16)
    action: str = Field(max_length=64)
    status: str = Field(max_length=32, index=True)  # running | succeeded | partially_failed | failed
    hosts: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    fence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    requested_by: str | None = Field(default=None, max_length=255)
    attempts: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    duration_s: float | None = None


class TargetRow(Table, table=True):
    __tablename__ = "job_targets"
    job_id: str = Field(primary_key=True, max_length=128, foreign_key="jobs.job_id")
    host: str = Field(primary_key=True, max_length=255)
    status: str = Field(max_length=16)
    exit_code: int | None = None
    error_class: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, sa_column=Column(Text))
    output: str = Field(default="", sa_column=Column(Text, nullable=False))
    result: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    duration_s: float = 0.0
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
