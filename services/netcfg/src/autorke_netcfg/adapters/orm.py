"""The netcfg service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

* ``netcfg_clusters``: the cluster facts netcfg learned from inventory events (the
  kubeconfig stays sealed at rest).
* ``netcfg_pools``: netcfg's record of each pool it wrote, to report drift against, and
  the marks of the write in flight on it (``service_layer.pool_writes``).
* ``netcfg_pool_changes``: the open ``ippool.*`` changes and the pool each will write.
* ``netcfg_tickets``: flat-network tickets and where each stands.
* ``netcfg_callbacks``: every verified VCalico callback, keyed by its ``event_id`` (replay
  safety).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.orm import json_field, time_field
from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every netcfg table."""


class ClusterRow(Table, table=True):
    __tablename__ = "netcfg_clusters"
    name: str = Field(primary_key=True, max_length=128)
    provider: str | None = Field(default=None, max_length=32)
    api_endpoint: str | None = Field(default=None, max_length=512)
    kubeconfig_sealed: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    host_networks: list = json_field(default=list)
    pod_cidr: str | None = Field(default=None, max_length=64)
    service_cidr: str | None = Field(default=None, max_length=64)
    bgp_as: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    source_event: str | None = Field(default=None, max_length=64)
    updated_at: datetime = time_field(now=True)


class PoolRow(Table, table=True):
    __tablename__ = "netcfg_pools"
    cluster: str = Field(primary_key=True, max_length=128)
    name: str = Field(primary_key=True, max_length=253)
    spec: dict = json_field(default=dict)
    drift: dict | None = json_field(nullable=True)
    updated_by: str | None = Field(default=None, max_length=128)
    updated_at: datetime = time_field(now=True)
    write_id: str | None = Field(default=None, max_length=64)    # the last write begun
    write_by: str | None = Field(default=None, max_length=128)   # its actor or ticket
    write_started_at: datetime | None = time_field(nullable=True)  # set while it is in flight


class PoolChangeRow(Table, table=True):
    __tablename__ = "netcfg_pool_changes"
    __table_args__ = (Index("ix_netcfg_pool_changes_pool", "cluster", "pool"),)
    change_id: str = Field(primary_key=True, max_length=64)
    cluster: str = Field(max_length=128)
    pool: str = Field(max_length=253)
    operation: str = Field(max_length=16)
    spec: dict | None = json_field(nullable=True)
    requested_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = time_field(now=True)


class TicketRow(Table, table=True):
    __tablename__ = "netcfg_tickets"
    id: str = Field(primary_key=True, max_length=64)
    cluster: str = Field(index=True, max_length=128)
    status: str = Field(index=True, max_length=32)
    requested_by: str = Field(max_length=128)
    approved_by: str | None = Field(default=None, max_length=128)
    confirmed_by: str | None = Field(default=None, max_length=128)
    correlation_id: str | None = Field(default=None, max_length=64)
    plan: dict = json_field(default=dict)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    vcalico_ticket_id: str | None = Field(default=None, max_length=64)
    submit_attempts: int = 0
    callback: dict | None = json_field(nullable=True)
    applied: dict | None = json_field(nullable=True)
    failure_reason: str | None = Field(default=None, max_length=64)
    failure_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = time_field(now=True)
    updated_at: datetime = time_field(now=True)
    submitted_at: datetime | None = time_field(nullable=True)


class CallbackRow(Table, table=True):
    __tablename__ = "netcfg_callbacks"
    event_id: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(index=True, max_length=64)
    result: str = Field(max_length=32)
    outcome: str = Field(max_length=32)
    body: dict = json_field(default=dict)
    received_at: datetime = time_field(now=True)


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
