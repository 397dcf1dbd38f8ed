"""The port every CMDB adapter implements: pages of :class:`SourceRecord` from a cursor."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from autorke_inventory.domain.records import SourcePage


class MachineSource(Protocol):
    """A CMDB. ``pages(None)`` is a full read; ``pages(cursor)`` returns what changed after
    ``cursor`` (an opaque string the source gave out with an earlier page)."""

    name: str

    def pages(self, cursor: str | None) -> Iterator[SourcePage]: ...

    def close(self) -> None: ...
