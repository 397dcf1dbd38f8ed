"""Thin REST routes for IP pools (DESIGN.md section 2) and the clusters netcfg knows:
parse, call a handler, return its view. Refusals are problem+json raised by the handlers;
the offending field is named in the problem body (``field``)."""
from __future__ import annotations

from typing import Any

from autorke_common.auth import Admin, Operator, Viewer
from autorke_common.catalogue.netcfg import PoolSpec
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from autorke_netcfg.entrypoints.deps import NetcfgPorts
from autorke_netcfg.service_layer import clusters, pools

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
def list_known_clusters(_: Admin, ports: NetcfgPorts) -> list[dict]:
    """The clusters netcfg learned from inventory (kubeconfig never shown)."""
    return clusters.list_clusters(ports)


@router.get("/api/v1/netcfg/clusters/{cluster}", tags=["clusters"])
def get_known_cluster(cluster: str, _: Admin, ports: NetcfgPorts) -> dict:
    return clusters.get_cluster(ports, cluster)


@router.get(POOLS)
def list_pools(cluster: str, _: Viewer, ports: NetcfgPorts) -> list[dict]:
    return pools.list_pools(ports, cluster)


@router.post(POOLS, status_code=201)
def create_pool(cluster: str, body: PoolBody, who: Operator, ports: NetcfgPorts) -> dict:
    return pools.create_pool(ports, cluster, body.name, _spec(body.spec), who.subject)


@router.get(POOLS + "/{pool}")
def get_pool(cluster: str, pool: str, _: Viewer, ports: NetcfgPorts) -> dict:
    return pools.get_pool(ports, cluster, pool)


@router.put(POOLS + "/{pool}")
def update_pool(cluster: str, pool: str, body: PoolUpdate, who: Operator,
                ports: NetcfgPorts) -> dict:
    return pools.update_pool(ports, cluster, pool, _spec(body.spec), who.subject)


@router.delete(POOLS + "/{pool}", status_code=204)
def delete_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts) -> Response:
    pools.delete_pool(ports, cluster, pool, who.subject)
    return Response(status_code=204)


@router.post(POOLS + "/{pool}:enable")
def enable_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts) -> dict:
    return pools.set_disabled(ports, cluster, pool, False, who.subject)


@router.post(POOLS + "/{pool}:disable")
def disable_pool(cluster: str, pool: str, who: Operator, ports: NetcfgPorts) -> dict:
    return pools.set_disabled(ports, cluster, pool, True, who.subject)
