"""Column helpers every service's ``adapters/orm.py`` uses, so a JSON or a timestamp column
means the same in each. Each service still declares its tables on its own base::

    class Table(SQLModel, registry=registry()):
        \"\"\"Base of every <service> table.\"\"\"

(two services loaded in one process, as in tests, must never share a MetaData)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field

from autorke_common.envelope import utcnow


def json_field(default: Callable[[], Any] | None = None, nullable: bool = False) -> Any:
    """A JSON column; ``default`` (``list``, ``dict``) makes a fresh value per row."""
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=nullable))
    return Field(default_factory=default, sa_column=Column(JSON, nullable=nullable))


def time_field(nullable: bool = False, now: bool = False) -> Any:
    """A timezone-aware timestamp column; ``now`` defaults it to the time the row is made."""
    if now:
        return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=nullable))
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))
