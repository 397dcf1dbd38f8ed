"""Config store REST: versions per cluster and kind, one version (secrets redacted unless
an admin asks with ``reveal=true``), a redacted diff, rollback, and a preview of the
cluster.yml the inventory would render now."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from autorke_common.auth import Operator, Viewer
from autorke_common.errors import Problem, not_found

from autorke_inventory.adapters.orm import ClusterRow
from autorke_inventory.domain import redaction
from autorke_inventory.entrypoints.deps import Services
from autorke_inventory.service_layer import configs

router = APIRouter(prefix="/api/v1/clusters/{name}/configs", tags=["configs"])


class RollbackIn(BaseModel):
    to: int = Field(ge=1)
    change_id: str | None = None
    comment: str | None = None


def _cluster(uow, name: str) -> ClusterRow:  # noqa: ANN001
    row = uow.session.get(ClusterRow, name)
    if row is None:
        raise not_found("cluster", name)
    return row


@router.get("/cluster.yml:render")
def render_preview(name: str, services: Services, _: Viewer) -> dict:
    with services.db.unit_of_work() as uow:
        content = configs.render_cluster_yml(uow, _cluster(uow, name))
        return {"cluster": name, "kind": "cluster.yml", "content": content,
                "content_hash": redaction.content_hash(content)}


@router.get("/{kind}:diff")
def diff(name: str, kind: str, services: Services, _: Viewer,
         from_: Annotated[int, Query(alias="from", ge=1)],
         to: Annotated[int, Query(ge=1)]) -> dict:
    configs.check_kind(kind)
    with services.db.unit_of_work() as uow:
        _cluster(uow, name)
        old = configs.get_version(uow, name, kind, from_)
        new = configs.get_version(uow, name, kind, to)
        text = redaction.diff(kind, configs.plaintext(old, services.box),
                              configs.plaintext(new, services.box),
                              f"{kind}@{from_}", f"{kind}@{to}")
        return {"cluster": name, "kind": kind, "from": from_, "to": to, "diff": text,
                "redacted": True}


@router.post("/{kind}:rollback", status_code=201)
def rollback(name: str, kind: str, body: RollbackIn, services: Services,
             principal: Operator) -> dict:
    configs.check_kind(kind)
    with services.db.unit_of_work() as uow:
        cluster = _cluster(uow, name)
        old = configs.get_version(uow, name, kind, body.to)
        row = configs.store(uow, cluster, kind, configs.plaintext(old, services.box),
                            services.box, actor=principal.subject, change_id=body.change_id,
                            comment=body.comment or f"rollback to version {body.to}",
                            rollback_of=body.to)
        uow.commit()
        return configs.version_view(row)


@router.get("/{kind}")
def list_versions(name: str, kind: str, services: Services, _: Viewer) -> dict:
    configs.check_kind(kind)
    with services.db.unit_of_work() as uow:
        _cluster(uow, name)
        return {"items": [configs.version_view(r) for r in configs.versions(uow, name, kind)]}


@router.get("/{kind}/{version}")
def get_version(name: str, kind: str, version: int, services: Services, principal: Viewer,
                reveal: bool = False) -> dict:
    configs.check_kind(kind)
    if reveal and "admin" not in principal.roles:
        raise Problem("forbidden", "Not allowed", 403, "only an admin may reveal a config's secrets")
    with services.db.unit_of_work() as uow:
        row = configs.get_version(uow, name, kind, version)
        text = configs.plaintext(row, services.box)
        content = text if reveal else redaction.redact(kind, text)
        return {**configs.version_view(row), "content": content, "redacted": not reveal}
