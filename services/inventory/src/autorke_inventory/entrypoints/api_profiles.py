"""Node profiles and the CMDB label mapping REST (issue 18): per cluster, versioned, each
write stored at once as the next version (201) and announced on the bus; a write that
changes nothing stores nothing (200 and the latest). Version 0 is the built-in default
(``default`` only). A refused spec is problem+json ``invalid-node-profile`` /
``invalid-label-mapping`` naming the field (``spec.kubelet.max_pods``); a stale
``expected_version`` is 409 ``version-conflict``. Writing takes the role registering a
cluster takes (operator)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from autorke_common.auth import Operator, Viewer
from autorke_common.node_profiles import DEFAULT
from autorke_common.rest import CursorParam, Limit
from autorke_inventory.domain.commands import StoreDocument
from autorke_inventory.entrypoints.deps import Services
from autorke_inventory.service_layer import handlers, views

router = APIRouter(prefix="/api/v1/clusters/{cluster}", tags=["node profiles"])
PROFILE, MAPPING = "node-profile", "label-mapping"
Version = Annotated[int, Query(ge=0, le=2**31 - 1)]


class DocumentIn(BaseModel):
    spec: dict[str, Any]
    comment: str | None = Field(default=None, max_length=500)
    expected_version: int | None = Field(default=None, ge=0, le=2**31 - 1,
                                         description="the latest version you read (0: none stored)")


# -- node profiles -----------------------------------------------------------------------
@router.get("/node-profiles")
def list_profiles(cluster: str, services: Services, _: Viewer, limit: Limit = 500,
                  cursor: CursorParam = None) -> dict:
    """The latest version of each profile, by name (the built-in ``default`` while none is stored)."""
    return views.documents_latest(services.uow(), cluster, PROFILE, limit, cursor)


@router.get("/node-profiles/{profile}:diff")
def profile_diff(cluster: str, profile: str, services: Services, _: Viewer,
                 from_: Annotated[int, Query(alias="from", ge=0)], to: Version) -> dict:
    return views.document_diff(services.uow(), cluster, PROFILE, profile, from_, to)


@router.get("/node-profiles/{profile}")
def get_profile(cluster: str, profile: str, services: Services, _: Viewer, version: Version | None = None) -> dict:
    return views.document(services.uow(), cluster, PROFILE, profile, version)


@router.get("/node-profiles/{profile}/versions")
def profile_versions(cluster: str, profile: str, services: Services, _: Viewer, limit: Limit = 500,
                     cursor: CursorParam = None) -> dict:
    return views.document_versions(services.uow(), cluster, PROFILE, profile, limit, cursor)


@router.put("/node-profiles/{profile}", status_code=201)
def put_profile(cluster: str, profile: str, body: DocumentIn, services: Services, principal: Operator,
                response: Response) -> dict:
    """201 and the new version; 200 and the latest when the spec is the latest's."""
    command = StoreDocument(cluster, PROFILE, profile, body.spec, principal.subject, body.comment,
                            body.expected_version)
    stored, created = handlers.store_document(command, services.uow())
    response.status_code = 201 if created else 200
    return stored


# -- the label mapping -------------------------------------------------------------------
@router.get("/label-mapping")
def get_mapping(cluster: str, services: Services, _: Viewer, version: Version | None = None) -> dict:
    return views.document(services.uow(), cluster, MAPPING, DEFAULT, version)


@router.get("/label-mapping/versions")
def mapping_versions(cluster: str, services: Services, _: Viewer, limit: Limit = 500,
                     cursor: CursorParam = None) -> dict:
    return views.document_versions(services.uow(), cluster, MAPPING, DEFAULT, limit, cursor)


@router.get("/label-mapping:diff")
def mapping_diff(cluster: str, services: Services, _: Viewer,
                 from_: Annotated[int, Query(alias="from", ge=0)], to: Version) -> dict:
    return views.document_diff(services.uow(), cluster, MAPPING, DEFAULT, from_, to)


@router.put("/label-mapping", status_code=201)
def put_mapping(cluster: str, body: DocumentIn, services: Services, principal: Operator,
                response: Response) -> dict:
    """201 and the new version; 200 and the latest when the spec is the latest's."""
    command = StoreDocument(cluster, MAPPING, DEFAULT, body.spec, principal.subject, body.comment,
                            body.expected_version)
    stored, created = handlers.store_document(command, services.uow())
    response.status_code = 201 if created else 200
    return stored
