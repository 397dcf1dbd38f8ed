"""The console's unit of work: the platform's (outbox, processed-message inbox, the only
place that commits) with the console's repository on it, made afresh over each unit's
session::

    with ConsoleUnitOfWork(db) as uow:
        uow.sessions.add(session_id, record)
        uow.commit()
"""
from __future__ import annotations

from typing import Self

from autorke_common.outbox import UnitOfWork
from autorke_console.adapters.repository import EventLogRepository, SessionRepository


class ConsoleUnitOfWork(UnitOfWork):
    sessions: SessionRepository
    events: EventLogRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.sessions = SessionRepository(self.session)
        self.events = EventLogRepository(self.session)
        return self
