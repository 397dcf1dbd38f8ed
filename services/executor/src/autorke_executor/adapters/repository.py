"""The executor's repositories: jobs and their per-target results, read and written in the
session of one unit of work (:mod:`.unit_of_work` hands them out as ``uow.jobs`` and
``uow.targets``). The service layer sees only these methods, declared as protocols in
:mod:`autorke_executor.service_layer.unit_of_work`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autorke_common.db import keyset
from autorke_common.envelope import utcnow
from autorke_executor.adapters.orm import JobRow, TargetRow
from autorke_executor.domain.model import JobHeld, TargetOutcome


class SqlJobRepository:
    """One row per job id (the idempotency key)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: str) -> JobRow | None:
        return self.session.get(JobRow, job_id)

    def add(self, row: JobRow) -> None:
        self.session.add(row)
        try:
            self.session.flush()  # a replica that inserted the same job id first fails here
        except IntegrityError:
            raise JobHeld(f"job {row.job_id} was started by another executor", delay=2.0) from None

    def claim(self, job_id: str, seen_token: int, owner: str, until: datetime) -> bool:
        """Take over a running job whose lease was seen expired with ``seen_token``:
        a compare-and-set, so of two replicas that saw the same expired lease one wins."""
        done = self.session.execute(
            update(JobRow).where(JobRow.job_id == job_id, JobRow.status == "running",
                                 JobRow.fencing_token == seen_token)
            .values(owner=owner, lease_expires_at=until, fencing_token=seen_token + 1,
                    attempts=JobRow.attempts + 1)
            .execution_options(synchronize_session=False))
        return done.rowcount == 1

    def renew(self, job_id: str, owner: str, token: int, until: datetime) -> bool:
        """Extend the lease while ``owner`` holds it with ``token``; False once it does not
        (taken over): the run's writes stop there. The row stays locked until the unit ends."""
        done = self.session.execute(
            update(JobRow).where(JobRow.job_id == job_id, JobRow.status == "running",
                                 JobRow.owner == owner, JobRow.fencing_token == token)
            .values(lease_expires_at=until).execution_options(synchronize_session=False))
        return done.rowcount == 1

    def newest_first(self, *, change_id: str | None, status: str | None, after: Any | None,
                     limit: int) -> list[JobRow]:
        """Up to ``limit + 1`` jobs, newest first (created_at, then job id), after the
        :class:`~autorke_common.rest.Cursor` ``after``."""
        q = select(JobRow)
        if change_id:
            q = q.where(JobRow.change_id == change_id)
        if status:
            q = q.where(JobRow.status == status)
        q = keyset(q, JobRow.created_at, JobRow.job_id, after, limit, descending=True)
        return list(self.session.scalars(q))


class SqlTargetRepository:
    """One row per finished target of a job: a redelivered job skips every host found here."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def finished(self, job_id: str) -> list[TargetRow]:
        return list(self.session.scalars(select(TargetRow).where(TargetRow.job_id == job_id)
                                         .order_by(TargetRow.host)))

    def outcomes(self, job_id: str) -> list[TargetOutcome]:
        return [outcome_of(r) for r in self.finished(job_id)]

    def add(self, job_id: str, outcome: TargetOutcome) -> None:
        self.session.add(target_row(job_id, outcome))

    def counts(self, job_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per job, how many of its targets ended in each status."""
        counts: dict[str, dict[str, int]] = {j: {} for j in job_ids}
        if not job_ids:
            return counts
        q = (select(TargetRow.job_id, TargetRow.status, func.count())
             .where(TargetRow.job_id.in_(job_ids)).group_by(TargetRow.job_id, TargetRow.status))
        for job_id, status, n in self.session.execute(q):
            counts[job_id][status] = n
        return counts


def target_row(job_id: str, outcome: TargetOutcome) -> TargetRow:
    return TargetRow(job_id=job_id, host=outcome.host, status=outcome.status,
                     exit_code=outcome.exit_code, error_class=outcome.error_class,
                     error=outcome.error, output=outcome.output, result=outcome.result,
                     duration_s=outcome.duration_s, finished_at=utcnow())


def outcome_of(row: TargetRow) -> TargetOutcome:
    return TargetOutcome(row.host, row.status, row.duration_s, row.exit_code, row.error_class,
                         row.error, row.output, dict(row.result or {}))
