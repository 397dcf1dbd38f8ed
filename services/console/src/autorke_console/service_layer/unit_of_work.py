"""What the console's handlers rely on from a unit of work, as protocols: the sessions
repository and the event log. :class:`autorke_console.adapters.unit_of_work.ConsoleUnitOfWork` is the real
one; ``tests/unit/console/fakes.py`` holds an in-memory one."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, Self

from autorke_console.domain.sessions import ConsoleSession


class Sessions(Protocol):
    def add(self, session_id: str, record: ConsoleSession) -> None: ...
    def get(self, session_id: str) -> ConsoleSession | None: ...
    def remove(self, session_id: str) -> bool: ...
    def remove_ended_before(self, moment: float) -> int: ...


class Events(Protocol):
    def add_once(self, row: Any) -> bool: ...
    def page(self, f: Any, after: Any, limit: int) -> list[Any]: ...
    def remove_before(self, moment: datetime) -> int: ...


class UnitOfWork(Protocol):
    """One transaction: entered with ``with``, written only by :meth:`commit`, rolled back
    on exit otherwise."""

    sessions: Sessions
    events: Events

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
