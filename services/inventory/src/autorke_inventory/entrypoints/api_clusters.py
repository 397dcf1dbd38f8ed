"""Clusters REST: register, read, update (If-Match), nodes (with their observed Kubernetes
status, refreshed through the executor), import (from cluster.yml + cluster.rkestate now,
or through the Kubernetes API via the executor)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from autorke_common.auth import Operator, Viewer
from autorke_common.errors import Problem, not_found

from autorke_inventory.adapters.orm import ClusterRow, JobRow, MachineRow, MembershipRow
from autorke_inventory.entrypoints.deps import Services, check_if_match, set_etag
from autorke_inventory.service_layer import clusters, jobs, node_status
from autorke_inventory.service_layer.views import machine_view

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
    host_networks: list[str] = []
    pod_cidr: str = "10.42.0.0/16"
    service_cidr: str = "10.43.0.0/16"
    bgp_as: int | None = None
    bastion: Bastion | None = None
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="service options merged into cluster.yml")


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
    options: dict[str, Any] | None = None


class ImportIn(BaseModel):
    source: Literal["files", "kubernetes"] = "files"
    cluster_yml: str | None = None
    rkestate: str | None = Field(default=None, description="sealed at rest, never shown")


def _get(uow, name: str) -> ClusterRow:  # noqa: ANN001
    row = uow.session.get(ClusterRow, name)
    if row is None:
        raise not_found("cluster", name)
    return row


@router.get("/clusters")
def list_clusters(services: Services, _: Viewer) -> dict:
    with services.db.unit_of_work() as uow:
        rows = uow.session.scalars(select(ClusterRow).order_by(ClusterRow.name)).all()
        counts = clusters.member_counts(uow)
        return {"items": [clusters.cluster_view(r, counts.get(r.name, 0)) for r in rows]}


@router.post("/clusters", status_code=201)
def register_cluster(body: ClusterIn, services: Services, principal: Operator,
                     response: Response) -> dict:
    with services.db.unit_of_work() as uow:
        data = body.model_dump()
        data["bastion"] = body.bastion.model_dump() if body.bastion else None
        row = clusters.register(uow, data, services.box, principal.subject)
        uow.commit()
        set_etag(response, row.version)
        return clusters.cluster_view(row, 0)


@router.get("/clusters/{name}")
def get_cluster(name: str, services: Services, _: Viewer, response: Response) -> dict:
    with services.db.unit_of_work() as uow:
        row = _get(uow, name)
        set_etag(response, row.version)
        return clusters.cluster_view(row, clusters.member_count(uow, name))


@router.patch("/clusters/{name}")
def update_cluster(name: str, body: ClusterPatch, services: Services, principal: Operator,
                   response: Response,
                   if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> dict:
    with services.db.unit_of_work() as uow:
        row = _get(uow, name)
        check_if_match(if_match, row.version)
        patch = body.model_dump(exclude_unset=True)
        if "bastion" in patch and body.bastion is not None:
            patch["bastion"] = body.bastion.model_dump()
        row = clusters.update(uow, row, patch, services.box, principal.subject)
        uow.commit()
        set_etag(response, row.version)
        return clusters.cluster_view(row, clusters.member_count(uow, name))


@router.get("/clusters/{name}/nodes")
def cluster_nodes(name: str, services: Services, _: Viewer) -> dict:
    with services.db.unit_of_work() as uow:
        _get(uow, name)
        rows = uow.session.execute(
            select(MachineRow, MembershipRow).join(MembershipRow,
                                                   MembershipRow.machine_id == MachineRow.id)
            .where(MembershipRow.cluster == name).order_by(MachineRow.hostname)).all()
        return {"items": [machine_view(m, mem) for m, mem in rows],
                "node_status": node_status.latest_job(uow, name)}


@router.post("/clusters/{name}/nodes:refresh", status_code=202)
def refresh_nodes(name: str, services: Services, principal: Operator) -> dict:
    """Read the nodes' status from the cluster's API now (through the executor)."""
    with services.db.unit_of_work() as uow:
        row = _get(uow, name)
        job_id = node_status.request(uow, row, principal.subject)
        uow.commit()
        return {"job_id": job_id, "status": "pending"}


@router.post("/clusters/{name}:import")
def import_cluster(name: str, body: ImportIn, services: Services,
                   principal: Operator) -> JSONResponse:
    with services.db.unit_of_work() as uow:
        row = _get(uow, name)
        if body.source == "kubernetes":
            job_id = jobs.request_kube_import(uow, row, principal.subject)
            uow.commit()
            return JSONResponse({"job_id": job_id, "status": "pending"}, status_code=202)
        if not body.cluster_yml:
            raise Problem("invalid-request", "cluster.yml missing", 422,
                          "an import from files needs cluster_yml (and usually rkestate)")
        report = clusters.import_from_files(uow, row, body.cluster_yml, body.rkestate,
                                            services.box, principal.subject)
        if row.kubeconfig_sealed:  # the files say who the members are, the API how they are
            report["node_status_job"] = node_status.request(uow, row, principal.subject,
                                                            reason="imported")
        uow.commit()
        return JSONResponse(report)


@router.get("/clusters/{name}/imports/{job_id}")
def import_status(name: str, job_id: str, services: Services, _: Viewer) -> dict:
    with services.db.unit_of_work() as uow:
        job = uow.session.get(JobRow, job_id)
        if job is None or job.cluster != name or job.purpose != "import":
            raise not_found("import", job_id)
        return {"job_id": job.job_id, "cluster": name, "status": job.status,
                "report": job.report, "created_at": job.created_at.isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None}
