"""The executor service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

``jobs`` holds one row per job id (the idempotency key) and its lease (owner, expiry,
fencing token), and ``job_targets`` one row per finished target: a redelivered job skips
every host that already has a row here. Job secrets are never stored."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.orm import json_field, time_field
from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every executor table."""


class JobRow(Table, table=True):
    __tablename__ = "jobs"
    job_id: str = Field(primary_key=True, max_length=128)
    change_id: str | None = Field(default=None, max_length=128, index=True)
    kind: str = Field(max_length=16)
    action: str = Field(max_length=64)
    status: str = Field(max_length=32, index=True)  # running | succeeded | partially_failed | failed
    hosts: list = json_field(list)
    fence: list = json_field(list)
    params: dict = json_field(dict)
    requested_by: str | None = Field(default=None, max_length=255)
    attempts: int = 1
    # the lease (H4): who runs the job, until when without renewal, and the fencing token
    # every write of a run carries (a takeover raises it, so the old owner's writes fail)
    owner: str | None = Field(default=None, max_length=255)
    lease_expires_at: datetime | None = time_field(nullable=True)
    fencing_token: int = 1
    # spelled out: indexed (the list's order), which time_field does not do
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    finished_at: datetime | None = time_field(nullable=True)
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
    result: dict = json_field(dict)
    duration_s: float = 0.0
    finished_at: datetime = time_field()


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
