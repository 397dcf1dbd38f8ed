"""The executor's REST API: jobs and their per-target results (read-only, viewer role).
Jobs are started only through the bus (``autorke.cmd.executor.run``)."""
from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Annotated, Any

from autorke_common.auth import Viewer
from autorke_common.errors import Problem, not_found
from fastapi import APIRouter, Query, Request

from autorke_executor.adapters import repository as repo
from autorke_executor.adapters.orm import JobRow, TargetRow

router = APIRouter(prefix="/api/v1", tags=["jobs"])
STATUSES = ("running", "succeeded", "partially_failed", "failed")


def _job(row: JobRow, counts: dict[str, int] | None = None) -> dict[str, Any]:
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


def _target(row: TargetRow) -> dict[str, Any]:
    return {"host": row.host, "status": row.status, "exit_code": row.exit_code,
            "error_class": row.error_class, "error": row.error, "duration_s": row.duration_s,
            "output": row.output, "result": row.result, "finished_at": row.finished_at.isoformat()}


def _cursor(row: JobRow) -> str:
    raw = json.dumps([row.created_at.isoformat(), row.job_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(at), str(job_id)
    except Exception:  # noqa: BLE001
        raise Problem("invalid-cursor", "Invalid cursor", 400, "the cursor was not issued by this API") from None


@router.get("/jobs")
def list_jobs(request: Request, _: Viewer,
              change_id: Annotated[str | None, Query(max_length=128)] = None,
              status: Annotated[str | None, Query()] = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              cursor: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise Problem("invalid-request", "Invalid request", 422, f"status must be one of {', '.join(STATUSES)}")
    before = _parse_cursor(cursor) if cursor else None
    with request.app.state.runtime.db.unit_of_work() as uow:
        rows = repo.list_jobs(uow.session, change_id=change_id, status=status, before=before, limit=limit)
        counts = repo.target_counts(uow.session, [r.job_id for r in rows])
        items = [_job(r, counts[r.job_id]) for r in rows]
    return {"items": items, "next_cursor": _cursor(rows[-1]) if len(rows) == limit else None}


@router.get("/jobs/{job_id}")
def get_job(request: Request, job_id: str, _: Viewer) -> dict[str, Any]:
    with request.app.state.runtime.db.unit_of_work() as uow:
        row = repo.get_job(uow.session, job_id)
        if row is None:
            raise not_found("job", job_id)
        targets = [_target(t) for t in repo.finished_targets(uow.session, job_id)]
        body = _job(row)
    body["targets"] = targets
    return body
