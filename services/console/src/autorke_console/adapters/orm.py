"""The console service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables.

* ``console_sessions``: the signed-in people (``domain.sessions``), keyed by a digest of
  the opaque id the browser holds, the access token sealed with a key derived from that
  id (``adapters.repository``): the table alone opens no session and shows no token.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text
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


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
