"""The read side of the REST API: jobs, newest first, and one job with its per-target
results. Each view reads in its own unit of work and returns plain JSON-ready data."""
from __future__ import annotations

from typing import Any

from autorke_common.errors import Invalid, Missing
from autorke_common.rest import Cursor, Page, page_of
from autorke_executor.adapters.orm import JobRow, TargetRow
from autorke_executor.service_layer.unit_of_work import UnitOfWork

STATUSES = ("running", "succeeded", "partially_failed", "failed")
NEWEST_FIRST = "-created_at"  # the one order of the job list (its cursors carry it)


def list_jobs(uow: UnitOfWork, *, change_id: str | None = None, status: str | None = None,
              limit: int = 50, cursor: str | None = None) -> Page:
    """A page of jobs, newest first, each with how many of its targets ended how; 400
    ``invalid-cursor`` for a cursor this API did not give out."""
    if status is not None and status not in STATUSES:
        raise Invalid("invalid-request", f"status must be one of {', '.join(STATUSES)}", field="status")
    after = Cursor.decode(cursor, NEWEST_FIRST)
    with uow:
        rows = uow.jobs.newest_first(change_id=change_id, status=status, after=after, limit=limit)
        counts = uow.targets.counts([r.job_id for r in rows[:limit]])
    return page_of(rows, limit, key=lambda r: (r.created_at, r.job_id), sort=NEWEST_FIRST,
                   view=lambda r: job_view(r, counts[r.job_id]))


def get_job(uow: UnitOfWork, job_id: str) -> dict[str, Any]:
    """One job with its finished targets (results and output); 404 ``not-found``."""
    with uow:
        row = uow.jobs.get(job_id)
        if row is None:
            raise Missing("not-found", f"job {job_id!r} does not exist")
        targets = [target_view(t) for t in uow.targets.finished(job_id)]
    return {**job_view(row), "targets": targets}


def job_view(row: JobRow, counts: dict[str, int] | None = None) -> dict[str, Any]:
    params = dict(row.params or {})
    error = params.pop("_error", None)
    out = {"id": row.job_id, "change_id": row.change_id, "kind": row.kind, "action": row.action,
           "status": row.status, "hosts": row.hosts, "fence": row.fence, "params": params,
           "requested_by": row.requested_by, "attempts": row.attempts, "error": error,
           "created_at": row.created_at.isoformat(),
           "finished_at": row.finished_at.isoformat() if row.finished_at else None,
           "duration_s": row.duration_s}
    if counts is not None:
        out["targets_by_status"] = counts
    return out


def target_view(row: TargetRow) -> dict[str, Any]:
    return {"host": row.host, "status": row.status, "exit_code": row.exit_code,
            "error_class": row.error_class, "error": row.error, "duration_s": row.duration_s,
            "output": row.output, "result": row.result, "finished_at": row.finished_at.isoformat()}
