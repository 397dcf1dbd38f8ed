"""Config store REST: versions per cluster and kind, one version (secrets redacted unless
an admin asks with ``reveal=true``), a redacted diff, rollback (202 and the
``config.rollback`` change that makes the old content current once approved), and a
preview of the cluster.yml the inventory would render now (redacted, like every version)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from autorke_common.auth import Operator, Viewer
from autorke_common.rest import CursorParam, Limit
from autorke_inventory.domain.commands import RollbackConfig
from autorke_inventory.entrypoints.deps import Services, accepted
from autorke_inventory.service_layer import handlers, views

router = APIRouter(prefix="/api/v1/clusters/{name}/configs", tags=["configs"])


class RollbackIn(BaseModel):
    to: int = Field(ge=1, le=2**31 - 1)
    comment: str | None = Field(default=None, max_length=500)


@router.get("/cluster.yml:render")
def render_preview(name: str, services: Services, principal: Viewer, reveal: bool = False) -> dict:
    return views.rendered_cluster_yml(services.uow(), name, reveal=reveal, admin="admin" in principal.roles)


@router.get("/{kind}:diff")
def diff(name: str, kind: str, services: Services, _: Viewer,
         from_: Annotated[int, Query(alias="from", ge=1)],
         to: Annotated[int, Query(ge=1)]) -> dict:
    return views.config_diff(services.uow(), services.box, name, kind, from_, to)


@router.post("/{kind}:rollback", status_code=202)
def rollback(name: str, kind: str, body: RollbackIn, services: Services, principal: Operator,
             request: Request) -> JSONResponse:
    command = RollbackConfig(name, kind, body.to, principal.subject, body.comment,
                             request.headers.get("Authorization"))
    change = handlers.rollback_config(command, services.uow(), box=services.box, changes=services.changes)
    return accepted(change)


@router.get("/{kind}")
def list_versions(name: str, kind: str, services: Services, _: Viewer, limit: Limit = 500,
                  cursor: CursorParam = None) -> dict:
    """The versions, oldest first, in pages of up to ``limit`` (500 by default)."""
    return views.config_versions(services.uow(), name, kind, limit, cursor)


@router.get("/{kind}/{version}")
def get_version(name: str, kind: str, version: int, services: Services, principal: Viewer,
                reveal: bool = False) -> dict:
    if reveal:  # whole, secrets included: admins only, and audited
        return handlers.reveal_config(services.uow(), services.box, name, kind, version, actor=principal.subject,
                                      admin="admin" in principal.roles)
    return views.config_version(services.uow(), services.box, name, kind, version)
