"""The executor's unit of work: the common one (outbox, processed-message inbox, the only
commit) with the executor's repositories set over each new session."""
from __future__ import annotations

from typing import Self

from sqlalchemy.exc import InterfaceError, OperationalError

from autorke_common.errors import StoreUnavailable
from autorke_common.outbox import UnitOfWork
from autorke_executor.adapters.repository import SqlJobRepository, SqlTargetRepository


class ExecutorUnitOfWork(UnitOfWork):
    """``with uow:`` opens a session and sets ``uow.jobs`` and ``uow.targets`` over it.
    The same object may be entered again after it is left (a job's run uses one unit of
    work per step: start, each batch of results, finish), never by two threads at once.
    A lost connection leaves it as :class:`StoreUnavailable` (the run waits it out)."""

    jobs: SqlJobRepository
    targets: SqlTargetRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.jobs = SqlJobRepository(self.session)
        self.targets = SqlTargetRepository(self.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        super().__exit__(exc_type, exc, tb)
        if isinstance(exc, (OperationalError, InterfaceError)):  # the connection, not the statement
            cause = exc.orig or exc
            first = str(cause).splitlines()[0] if str(cause) else ""
            raise StoreUnavailable(f"database unavailable: {type(cause).__name__}: {first}") from exc
