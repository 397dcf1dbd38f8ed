"""The orchestrator's REST API (DESIGN.md section 2): thin routes that parse, call one
handler or view, and map the result. Plain ``def`` routes: FastAPI runs them in its thread
pool, so the database work never blocks the event loop."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from autorke_common.auth import Admin, Operator, Principal, Viewer
from autorke_common.rest import CursorParam, Limit, Page
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.entrypoints.deps import UnitOfWorkDep
from autorke_orchestrator.service_layer import handlers, views
from autorke_orchestrator.service_layer.commands import (
    Actor,
    CancelChange,
    ContinueChange,
    CreateChange,
    DecideApproval,
    ForceCancelChange,
    RetryChange,
)

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


class ForceCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    targets: list[str] | None = None


def _actor(p: Principal) -> Actor:
    return Actor(p.subject, p.roles)


@router.post("/changes", status_code=201)
def create_change(body: ChangeIn, principal: Operator, uow: UnitOfWorkDep) -> JSONResponse:
    req = ChangeRequest(body.type, body.cluster, list(body.targets), dict(body.params))
    change = handlers.create_change(CreateChange(req, _actor(principal), body.dry_run), uow)
    view = views.change_view(change, history=not body.dry_run)
    if body.dry_run:
        view["id"], view["status"], view["dry_run"] = None, "planned", True
        return JSONResponse(view, status_code=200)
    return JSONResponse(view, status_code=201, headers={"Location": f"/api/v1/changes/{change.id}"})


@router.get("/changes")
def list_changes(_: Viewer, uow: UnitOfWorkDep, status: str | None = None, cluster: str | None = None,
                 limit: Limit = 100, cursor: CursorParam = None) -> Page[dict[str, Any]]:
    return views.list_changes(uow, status, cluster, limit, cursor)


@router.get("/changes/{change_id}")
def get_change(change_id: str, _: Viewer, uow: UnitOfWorkDep) -> dict:
    return views.get_change(uow, change_id)


@router.get("/changes/{change_id}/history")
def get_history(change_id: str, _: Viewer, uow: UnitOfWorkDep, limit: Limit = 100,
                cursor: CursorParam = None) -> Page[dict[str, Any]]:
    return views.get_history(uow, change_id, limit, cursor)


@router.post("/changes/{change_id}/approvals")
def approve(change_id: str, body: ApprovalIn, principal: Viewer, uow: UnitOfWorkDep) -> dict:
    """Roles are checked by the gate itself: self-approval first (whatever the roles), then
    the role the gate needs (approver, or admin for core changes)."""
    cmd = DecideApproval(change_id, body.step, body.decision, body.comment, _actor(principal))
    return views.change_view(handlers.decide_approval(cmd, uow))


@router.post("/changes/{change_id}:retry")
def retry(change_id: str, principal: Operator, uow: UnitOfWorkDep, body: RetryIn | None = None) -> dict:
    cmd = RetryChange(change_id, _actor(principal), body.targets if body else None)
    return views.change_view(handlers.retry(cmd, uow))


@router.post("/changes/{change_id}:continue")
def proceed(change_id: str, principal: Operator, uow: UnitOfWorkDep) -> dict:
    return views.change_view(handlers.proceed(ContinueChange(change_id, _actor(principal)), uow))


@router.post("/changes/{change_id}:cancel")
def cancel(change_id: str, principal: Operator, uow: UnitOfWorkDep) -> dict:
    return views.change_view(handlers.cancel(CancelChange(change_id, _actor(principal)), uow))


@router.post("/changes/{change_id}:force-cancel")
def force_cancel(change_id: str, body: ForceCancelIn, principal: Admin, uow: UnitOfWorkDep) -> dict:
    """Close a stuck change now (admin): no compensation, its locks released, the targets
    its running steps were on left ``unknown`` and named in the history (audited)."""
    cmd = ForceCancelChange(change_id, _actor(principal), body.reason)
    return views.change_view(handlers.force_cancel(cmd, uow))
