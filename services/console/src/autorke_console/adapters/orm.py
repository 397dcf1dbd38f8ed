"""The console service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

* ``console_sessions``: the signed-in people (``domain.sessions``), keyed by a digest of
  the opaque id the browser holds, the access token sealed with a key derived from that
  id (``adapters.repository``): the table alone opens no session and shows no token.
* ``console_event_log``: the platform's events as the Events page and the audit view read
  them back (``service_layer.event_log``), each once by envelope id, without sealed values
  and dead letters' payloads, for the retention the console is told.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, String, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from autorke_common.orm import json_field, time_field
from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every console table."""


class SessionRow(Table, table=True):
    __tablename__ = "console_sessions"
    id_digest: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    username: str | None = Field(default=None, max_length=255)
    roles: list = json_field(default=list)
    token_sealed: str = Field(sa_column=Column(Text, nullable=False))
    csrf: str = Field(max_length=64)
    token_expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    created_at: datetime = time_field(now=True)


class EventRow(Table, table=True):
    __tablename__ = "console_event_log"
    __table_args__ = (
        Index("ix_console_event_log_time_id", "time", "id"),
        Index("ix_console_event_log_correlation", "correlation_id", "time"),
        Index("ix_console_event_log_actor", "actor", "time"),
        Index("ix_console_event_log_cluster", "cluster", "time"),
    )
    id: str = Field(sa_column=Column(String(64), primary_key=True))
    subject: str = Field(sa_column=Column(String(255), nullable=False))
    type: str = Field(sa_column=Column(String(128), nullable=False))
    source: str = Field(sa_column=Column(String(64), nullable=False))
    time: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    actor: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    cluster: str | None = Field(default=None, sa_column=Column(String(63), nullable=True))
    envelope: dict = json_field()


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
