"""What the executor's handlers and views rely on from a unit of work, as protocols: the
real one is :class:`autorke_executor.adapters.unit_of_work.ExecutorUnitOfWork`, the unit
tests' is an in-memory fake. Rows are the ORM's (:mod:`autorke_executor.adapters.orm`),
used here as plain objects."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Self

from autorke_common.envelope import Envelope
from autorke_executor.adapters.orm import JobRow, TargetRow
from autorke_executor.domain.model import TargetOutcome


class JobRepository(Protocol):
    def get(self, job_id: str) -> JobRow | None: ...

    def add(self, row: JobRow) -> None:
        """Raises :class:`JobTaken` when another executor added the same job id first."""
        ...

    def claim(self, job_id: str, seen_token: int, owner: str, until: datetime) -> bool:
        """Take over a running job whose lease expired (compare-and-set on the token)."""
        ...

    def renew(self, job_id: str, owner: str, token: int, until: datetime) -> bool:
        """Extend the lease; False when ``owner`` no longer holds it with ``token``."""
        ...

    def newest_first(self, *, change_id: str | None, status: str | None, after: Any | None,
                     limit: int) -> list[JobRow]:
        """Up to ``limit + 1`` jobs by (created_at, job id) descending, strictly after the
        cursor ``after`` (a :class:`~autorke_common.rest.Cursor`, or None)."""
        ...


class TargetRepository(Protocol):
    def finished(self, job_id: str) -> list[TargetRow]:
        """The job's finished targets, by host."""
        ...

    def outcomes(self, job_id: str) -> list[TargetOutcome]: ...

    def add(self, job_id: str, outcome: TargetOutcome) -> None: ...

    def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]: ...


class UnitOfWork(Protocol):
    jobs: JobRepository
    targets: TargetRepository

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None: ...

    def already_processed(self, consumer: str, message_id: str) -> bool: ...

    def claim_large(self, value: str | None) -> str | None:
        """``value``, or a claim reference to it once it is over the claim threshold."""
        ...

    def commit(self) -> None: ...
