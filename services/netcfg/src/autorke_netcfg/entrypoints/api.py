"""Thin REST routes for IP pools (DESIGN.md section 2) and the clusters netcfg knows:
parse, call a handler or a view, return what it answers. Refusals are raised by the
handlers (domain errors and problems, problem+json at the edge); the offending field is
named in the problem body (``field``). Lists are pages (``{"items", "next_cursor"}``).

A pool write (create, update, delete, enable, disable) writes nothing at once: checked,
it becomes an ``ippool.*`` change the orchestrator runs after an approver approves it,
created as the caller (their ``Authorization`` goes along); the answer is 202 with the
change and its ``Location``."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from autorke_common.auth import Admin, Operator, Viewer
from autorke_common.catalogue.netcfg import PoolSpec
from autorke_common.change_requests import change_accepted
from autorke_common.rest import CursorParam, Limit, Page
from autorke_netcfg.domain.commands import RequestPoolChange
from autorke_netcfg.entrypoints.deps import NetcfgPorts
from autorke_netcfg.service_layer import pools, views

router = APIRouter(tags=["ippools"])
POOLS = "/api/v1/clusters/{cluster}/ippools"


class PoolBody(BaseModel):
    """A pool to create: its name and the Calico spec fields (``spec`` or flat)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=253)
    spec: PoolSpec


class PoolUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: PoolSpec


def _spec(spec: PoolSpec) -> dict[str, Any]:
    return spec.model_dump(exclude_none=True)


@router.get("/api/v1/netcfg/clusters", tags=["clusters"])
def list_known_clusters(_: Admin, ports: NetcfgPorts, limit: Limit = 100,
                        cursor: CursorParam = None) -> Page[dict[str, Any]]:
    """The clusters netcfg learned from inventory, by name (kubeconfig never shown)."""
    return views.list_clusters(ports, limit, cursor)


@router.get("/api/v1/netcfg/clusters/{cluster}", tags=["clusters"])
def get_known_cluster(cluster: str, _: Admin, ports: NetcfgPorts) -> dict:
    return views.get_cluster(ports, cluster)


@router.get(POOLS)
def list_pools(cluster: str, _: Viewer, ports: NetcfgPorts, limit: Limit = 100,
               cursor: CursorParam = None) -> Page[dict[str, Any]]:
    """The cluster's pools and netcfg's recorded pools gone from it, by name."""
    return views.list_pools(ports, cluster, limit, cursor)


def _requested(request: Request, ports: NetcfgPorts, cluster: str, pool: str, operation: str,
               actor: str, spec: PoolSpec | None = None) -> JSONResponse:
    change = pools.request_change(RequestPoolChange(cluster, pool, operation, _spec(spec) if spec else None,
                                                    actor, request.headers.get("authorization")), ports)
    body, headers = change_accepted(change)
    return JSONResponse(body, status_code=202, headers=headers)


@router.post(POOLS, status_code=202)
def create_pool(cluster: str, body: PoolBody, who: Operator, ports: NetcfgPorts, request: Request) -> JSONResponse:
    """Ask for an ``ippool.create`` change (202 with the change)."""
    return _requested(request, ports, cluster, body.name, "create", who.subject, body.spec)


@router.get(POOLS + "/{pool}")
def get_pool(cluster: str, pool: str, _: Viewer, ports: NetcfgPorts) -> dict:
    return views.get_pool(ports, cluster, pool)


@router.put(POOLS + "/{pool}", status_code=202)
def update_pool(cluster: str, pool: str, body: PoolUpdate, who: Operator, ports: NetcfgPorts,
                request: Request) -> JSONResponse:
    """Ask for an ``ippool.update`` change (its CIDR and block size never change)."""
    return _requested(request, ports, cluster, pool, "update", who.subject, body.spec)


@router.delete(POOLS + "/{pool}", status_code=202)
def delete_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts, request: Request) -> JSONResponse:
    return _requested(request, ports, cluster, pool, "delete", who.subject)


@router.post(POOLS + "/{pool}:enable", status_code=202)
def enable_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts, request: Request) -> JSONResponse:
    return _requested(request, ports, cluster, pool, "enable", who.subject)


@router.post(POOLS + "/{pool}:disable", status_code=202)
def disable_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts, request: Request) -> JSONResponse:
    return _requested(request, ports, cluster, pool, "disable", who.subject)
