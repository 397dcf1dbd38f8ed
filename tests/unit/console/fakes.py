"""An in-memory unit of work for the console's handlers: the sessions repository as a dict
(keyed by the session id, as the real one is by its digest), and a ``committed`` flag."""
from __future__ import annotations

from typing import Self

from autorke_console.domain.sessions import ConsoleSession


class FakeSessions:
    def __init__(self) -> None:
        self.rows: dict[str, ConsoleSession] = {}

    def add(self, session_id: str, record: ConsoleSession) -> None:
        self.rows[session_id] = record

    def get(self, session_id: str) -> ConsoleSession | None:
        return self.rows.get(session_id)

    def remove(self, session_id: str) -> bool:
        return self.rows.pop(session_id, None) is not None

    def remove_ended_before(self, moment: float) -> int:
        ended = [sid for sid, row in self.rows.items() if row.token_expires_at < moment]
        for sid in ended:
            del self.rows[sid]
        return len(ended)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.sessions = FakeSessions()
        self.committed = False
        self._saved: dict[str, ConsoleSession] = {}

    def __enter__(self) -> Self:
        self._saved = dict(self.sessions.rows)
        self.committed = False
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.sessions.rows = self._saved

    def commit(self) -> None:
        self.committed = True
