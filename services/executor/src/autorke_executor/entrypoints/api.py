"""The executor's REST API: jobs and their per-target results (read-only, viewer role).
Jobs are started only through the bus (``autorke.cmd.executor.run``)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from autorke_common.auth import Viewer
from autorke_common.rest import CursorParam, Limit, Page
from autorke_executor.entrypoints.deps import ExecutorUow
from autorke_executor.service_layer import views

router = APIRouter(prefix="/api/v1", tags=["jobs"])


@router.get("/jobs")
def list_jobs(_: Viewer, uow: ExecutorUow, change_id: Annotated[str | None, Query(max_length=128)] = None,
              status: Annotated[str | None, Query(description=f"one of {', '.join(views.STATUSES)}")] = None,
              limit: Limit = 50, cursor: CursorParam = None) -> Page[dict[str, Any]]:
    """Jobs, newest first."""
    return views.list_jobs(uow, change_id=change_id, status=status, limit=limit, cursor=cursor)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, _: Viewer, uow: ExecutorUow) -> dict[str, Any]:
    """One job with its per-target results."""
    return views.get_job(uow, job_id)
