"""Reading and writing jobs and their per-target results inside a unit of work."""
from __future__ import annotations

from datetime import datetime

from autorke_common.envelope import utcnow
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autorke_executor.adapters.orm import JobRow, TargetRow
from autorke_executor.domain.model import TargetOutcome


def get_job(session: Session, job_id: str) -> JobRow | None:
    return session.get(JobRow, job_id)


def finished_targets(session: Session, job_id: str) -> list[TargetRow]:
    return list(session.scalars(select(TargetRow).where(TargetRow.job_id == job_id)
                                .order_by(TargetRow.host)))


def add_target(session: Session, job_id: str, outcome: TargetOutcome) -> TargetRow:
    row = TargetRow(job_id=job_id, host=outcome.host, status=outcome.status,
                    exit_code=outcome.exit_code, error_class=outcome.error_class,
                    error=outcome.error, output=outcome.output, result=outcome.result,
                    duration_s=outcome.duration_s, finished_at=utcnow())
    session.add(row)
    return row


def row_outcome(row: TargetRow) -> TargetOutcome:
    return TargetOutcome(row.host, row.status, row.duration_s, row.exit_code, row.error_class,
                         row.error, row.output, dict(row.result or {}))


def list_jobs(session: Session, *, change_id: str | None, status: str | None,
              before: tuple[datetime, str] | None, limit: int) -> list[JobRow]:
    q = select(JobRow)
    if change_id:
        q = q.where(JobRow.change_id == change_id)
    if status:
        q = q.where(JobRow.status == status)
    if before:
        at, job_id = before
        q = q.where((JobRow.created_at < at) | ((JobRow.created_at == at) & (JobRow.job_id < job_id)))
    q = q.order_by(JobRow.created_at.desc(), JobRow.job_id.desc()).limit(limit)
    return list(session.scalars(q))


def target_counts(session: Session, job_ids: list[str]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {j: {} for j in job_ids}
    if not job_ids:
        return counts
    q = (select(TargetRow.job_id, TargetRow.status, func.count())
         .where(TargetRow.job_id.in_(job_ids)).group_by(TargetRow.job_id, TargetRow.status))
    for job_id, status, n in session.execute(q):
        counts[job_id][status] = n
    return counts
