"""The console service's tables: its own SQLModel registry (so no other service's tables
share its MetaData) plus the outbox and processed-message tables."""
from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from autorke_common.outbox import add_outbox_tables


class Table(SQLModel, registry=registry()):
    """Base of every console table."""


metadata = Table.metadata
outbox_tables = add_outbox_tables(metadata)
