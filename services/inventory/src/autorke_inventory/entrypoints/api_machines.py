"""Machines REST: list (filters, sort, keyset cursor), one machine, sync, facts."""
from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from autorke_common.auth import Operator, Viewer
from autorke_common.errors import Problem
from autorke_common.rest import CursorParam, Limit
from autorke_inventory.adapters.repository import MachineQuery
from autorke_inventory.domain.commands import GatherFacts
from autorke_inventory.entrypoints.deps import Services, set_etag
from autorke_inventory.service_layer import handlers, views

router = APIRouter(prefix="/api/v1", tags=["machines"])


class SyncRequest(BaseModel):
    mode: Literal["full", "incremental"] = "incremental"
    wait: bool = Field(default=False, description="answer with the finished sync's summary")


class FactsRequest(BaseModel):
    machines: list[str] = Field(min_length=1, max_length=1000)


@router.get("/machines")
def get_machines(services: Services, _: Viewer,
                 cluster: str | None = None, state: str | None = None, role: str | None = None,
                 gpu_model: str | None = None, rack: str | None = None, q: str | None = None,
                 sort: str = "hostname", limit: Limit = 50, cursor: CursorParam = None) -> dict:
    """``{"items", "next_cursor", "total", "state_counts"}``: ``total`` counts every machine
    that matches; ``state_counts`` how many match in each state, the ``state`` filter aside.
    ``q`` finds a substring of the hostname, id, IP, rack, site, environment, owner, OS,
    vendor, CPU or GPU model, ``gpu_model`` a part of the GPU model (any case);
    ``sort=hostname`` is natural (``m2`` before ``m10``)."""
    query = MachineQuery(cluster, state, role, gpu_model, rack, q, sort)
    return views.machines(services.uow(), query, limit, cursor)


@router.post("/machines:sync")
def sync_machines(body: SyncRequest, services: Services, principal: Operator,
                  background: BackgroundTasks) -> JSONResponse:
    if services.syncer is None:
        raise Problem("no-cmdb", "No CMDB configured", 409, "set AUTORKE_CMDB_URL")
    if body.wait:
        summary = services.syncer.run(body.mode, principal.subject)
        if summary is None:
            raise Problem("sync-running", "Another sync is running", 409,
                          "another replica's sync of the CMDB held on for too long; try again")
        return JSONResponse(asdict(summary), status_code=200 if summary.ok else 502)
    sync_id = str(uuid.uuid4())
    background.add_task(services.syncer.run, body.mode, principal.subject, sync_id)
    return JSONResponse({"sync_id": sync_id, "mode": body.mode}, status_code=202)


@router.post("/machines:facts", status_code=202)
def gather_facts(body: FactsRequest, services: Services, principal: Operator) -> dict:
    return handlers.gather_facts(GatherFacts(body.machines, principal.subject), services.uow())


@router.get("/machines/{key}")
def get_machine(key: str, services: Services, _: Viewer, response: Response) -> dict:
    machine = views.machine(services.uow(), key)
    set_etag(response, machine["version"])
    return machine
