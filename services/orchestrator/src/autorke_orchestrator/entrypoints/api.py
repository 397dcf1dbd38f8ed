"""The orchestrator's REST API (DESIGN.md section 2): thin routes that parse, call a
handler in a worker thread, and map the result."""
from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from autorke_common.auth import Operator, Principal, Viewer
from autorke_common.errors import Problem

from autorke_orchestrator.adapters import repository
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.views import change_view, history_view

router = APIRouter(prefix="/api/v1", tags=["changes"])


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=64)
    cluster: str | None = Field(default=None, max_length=128)
    targets: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(default_factory=list, max_length=1000)
    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: str = Field(min_length=1, max_length=64)
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=4000)


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: list[str] | None = None


def _db(request: Request):  # noqa: ANN202
    return request.app.state.runtime.db


def _actor(p: Principal) -> handlers.Actor:
    return handlers.Actor(p.subject, p.roles)


@router.post("/changes", status_code=201)
async def create_change(body: ChangeIn, request: Request, principal: Operator) -> JSONResponse:
    req = ChangeRequest(body.type, body.cluster, list(body.targets), dict(body.params))
    change = await asyncio.to_thread(handlers.create_change, _db(request), req, _actor(principal), body.dry_run)
    view = change_view(change, history=not body.dry_run)
    if body.dry_run:
        view["id"], view["status"], view["dry_run"] = None, "planned", True
        return JSONResponse(view, status_code=200)
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/changes/{change.id}"})


@router.get("/changes")
async def list_changes(request: Request, _: Viewer, status: str | None = None, cluster: str | None = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100, cursor: str | None = None) -> dict:
    def run() -> dict:
        with _db(request).unit_of_work() as uow:
            rows = repository.list_changes(uow.session, status, cluster, limit, cursor)
            items = [{"id": r.id, "type": r.type, "status": r.status, "cluster": r.cluster, "targets": r.targets,
                      "requested_by": r.requested_by, "open": not r.closed, "created_at": r.created_at.isoformat()}
                     for r in rows]
        return {"items": items, "next_cursor": items[-1]["id"] if len(items) == limit else None}
    return await asyncio.to_thread(run)


def _load(request: Request, change_id: str):  # noqa: ANN202
    with _db(request).unit_of_work() as uow:
        change = repository.load(uow.session, change_id)
    if change is None:
        raise Problem("not-found", "Change not found", 404, f"change {change_id!r} does not exist")
    return change


@router.get("/changes/{change_id}")
async def get_change(change_id: str, request: Request, _: Viewer) -> dict:
    return change_view(await asyncio.to_thread(_load, request, change_id))


@router.get("/changes/{change_id}/history")
async def get_history(change_id: str, request: Request, _: Viewer) -> dict:
    change = await asyncio.to_thread(_load, request, change_id)
    return {"id": change.id, "history": history_view(change)}


@router.post("/changes/{change_id}/approvals")
async def approve(change_id: str, body: ApprovalIn, request: Request, principal: Viewer) -> dict:
    """Roles are checked by the gate itself: self-approval first (whatever the roles), then
    the role the gate needs (approver, or admin for core changes)."""
    change = await asyncio.to_thread(handlers.decide_approval, _db(request), change_id, body.step, body.decision,
                                     body.comment, _actor(principal))
    return change_view(change)


@router.post("/changes/{change_id}:retry")
async def retry(change_id: str, request: Request, principal: Operator, body: RetryIn | None = None) -> dict:
    targets = body.targets if body else None
    return change_view(await asyncio.to_thread(handlers.retry, _db(request), change_id, targets, _actor(principal)))


@router.post("/changes/{change_id}:continue")
async def proceed(change_id: str, request: Request, principal: Operator) -> dict:
    return change_view(await asyncio.to_thread(handlers.proceed, _db(request), change_id, _actor(principal)))


@router.post("/changes/{change_id}:cancel")
async def cancel(change_id: str, request: Request, principal: Operator) -> dict:
    return change_view(await asyncio.to_thread(handlers.cancel, _db(request), change_id, _actor(principal)))
