"""Clusters REST: register, read, update (If-Match), nodes (with their observed Kubernetes
status, refreshed through the executor), import (from cluster.yml + cluster.rkestate, or
through the Kubernetes API via the executor). Lists are pages of up to ``limit`` (500 by
default: the console shows them whole).

New options (PATCH with ``options`` alone) and an import from files write no config: they
answer 202 with a change of the orchestrator (``config.update``, ``config.import``), asked
for as the caller, that adopts them once approved. Register may carry initial options
(checked by the same schema): a new cluster has no config and no member yet, and its first
cluster.yml is rendered within a change."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from autorke_common.auth import Operator, Viewer
from autorke_common.rest import CursorParam, Limit
from autorke_inventory.domain.commands import (
    ChangeOptions,
    ImportCluster,
    RefreshNodes,
    RegisterCluster,
    UpdateCluster,
)
from autorke_inventory.entrypoints.deps import Services, accepted, set_etag
from autorke_inventory.service_layer import handlers, views

router = APIRouter(prefix="/api/v1", tags=["clusters"])


class Bastion(BaseModel):
    address: str
    port: int = 22
    user: str = "root"
    ssh_key_path: str | None = None


class ClusterIn(BaseModel):
    name: str
    provider: Literal["rke", "rke2"]
    api_endpoint: str | None = None
    kubeconfig: str | None = Field(default=None, description="sealed at rest, never shown")
    join_address: str | None = Field(default=None, max_length=255,
                                     description="RKE2: where new nodes register (https://<server>:9345)")
    join_token: str | None = Field(default=None, description="RKE2 node-token: sealed at rest, never shown")
    host_networks: list[str] = Field(default_factory=list, description=(
        "the networks the hosts' addresses are in (CIDRs). netcfg checks IP pools against these and "
        "against every node's own address (a /32 each, read from the cluster); with neither, it "
        "refuses pools (host-networks-unknown)"))
    pod_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    bgp_as: int | None = None
    bastion: Bastion | None = None
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="cluster.yml options, from an allow-list (no nodes, bastion_host, "
                                                "ssh_*, addons*, cluster_name, secrets)")


class ClusterPatch(BaseModel):
    api_endpoint: str | None = None
    kubeconfig: str | None = None
    join_address: str | None = None
    join_token: str | None = None
    host_networks: list[str] | None = None
    pod_cidr: str | None = None
    service_cidr: str | None = None
    bgp_as: int | None = None
    bastion: Bastion | None = None
    options: dict[str, Any] | None = Field(default=None, description="alone: a config.update change (202)")


class ImportIn(BaseModel):
    source: Literal["files", "kubernetes"] = "files"
    cluster_yml: str | None = None
    rkestate: str | None = Field(default=None, description="sealed at rest, never shown")


@router.get("/clusters")
def list_clusters(services: Services, _: Viewer, limit: Limit = 500, cursor: CursorParam = None) -> dict:
    return views.clusters(services.uow(), limit, cursor)


@router.post("/clusters", status_code=201)
def register_cluster(body: ClusterIn, services: Services, principal: Operator,
                     response: Response) -> dict:
    data = body.model_dump()
    data["bastion"] = body.bastion.model_dump() if body.bastion else None
    cluster = handlers.register_cluster(RegisterCluster(data, principal.subject), services.uow(),
                                        box=services.box)
    set_etag(response, cluster["version"])
    return cluster


@router.get("/clusters/{name}")
def get_cluster(name: str, services: Services, _: Viewer, response: Response) -> dict:
    cluster = views.cluster(services.uow(), name)
    set_etag(response, cluster["version"])
    return cluster


@router.patch("/clusters/{name}")
def update_cluster(name: str, body: ClusterPatch, services: Services, principal: Operator,
                   request: Request, response: Response,
                   if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> Any:
    """200 and the cluster; options (sent alone): 202 and the ``config.update`` change."""
    patch = body.model_dump(exclude_unset=True)
    if "options" in patch and len(patch) == 1:
        command = ChangeOptions(name, patch["options"] or {}, if_match, principal.subject,
                                request.headers.get("Authorization"))
        change = handlers.change_options(command, services.uow(), box=services.box, changes=services.changes)
        return accepted(change)
    if "bastion" in patch and body.bastion is not None:
        patch["bastion"] = body.bastion.model_dump()
    cluster = handlers.update_cluster(UpdateCluster(name, patch, if_match, principal.subject),
                                      services.uow(), box=services.box)
    set_etag(response, cluster["version"])
    return cluster


@router.get("/clusters/{name}/nodes")
def cluster_nodes(name: str, services: Services, _: Viewer, limit: Limit = 500,
                  cursor: CursorParam = None) -> dict:
    """``{"items", "next_cursor", "node_status"}``: the members, and the last node listing."""
    return views.cluster_nodes(services.uow(), name, limit, cursor)


@router.post("/clusters/{name}/nodes:refresh", status_code=202)
def refresh_nodes(name: str, services: Services, principal: Operator) -> dict:
    """Read the nodes' status from the cluster's API now (through the executor)."""
    return handlers.refresh_nodes(RefreshNodes(name, principal.subject), services.uow())


@router.post("/clusters/{name}:import", status_code=202)
def import_cluster(name: str, body: ImportIn, services: Services, principal: Operator,
                   request: Request) -> JSONResponse:
    """From files: 202 and the ``config.import`` change. Through the Kubernetes API: 202 and the job."""
    command = ImportCluster(name, body.source, principal.subject, body.cluster_yml, body.rkestate,
                            request.headers.get("Authorization"))
    answer = handlers.import_cluster(command, services.uow(), box=services.box, changes=services.changes)
    if body.source == "kubernetes":
        return JSONResponse(answer, status_code=202)
    return accepted(answer)


@router.get("/clusters/{name}/proposals/{proposal_id}")
def proposal(name: str, proposal_id: str, services: Services, _: Viewer) -> dict:
    """A config change's proposal: never its content, its whole redacted preview."""
    return views.proposal(services.uow(), name, proposal_id)


@router.get("/clusters/{name}/imports/{job_id}")
def import_status(name: str, job_id: str, services: Services, _: Viewer) -> dict:
    return views.import_status(services.uow(), name, job_id)
