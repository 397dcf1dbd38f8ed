"""Which service owns an ``/api/v1`` path: the gateway's routing table, as plain data.

The console is the single API entry; it never answers a business call itself, it only
forwards. Ownership follows DESIGN.md section 2: machines, clusters, nodes and configs
belong to inventory, IP pools (under a cluster) and tickets and webhooks to netcfg,
changes to the orchestrator and jobs to the executor. Custom methods (``machines:sync``,
``changes/{id}:retry``) are routed by the collection name before the colon.
"""
from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("inventory", "orchestrator", "executor", "netcfg")


@dataclass(frozen=True)
class Route:
    service: str
    #: The console checks a bearer token before forwarding. Only the VCalico webhook is
    #: exempt: it is authenticated by its HMAC signature, which netcfg verifies.
    needs_token: bool = True


_BY_COLLECTION: dict[str, Route] = {
    "machines": Route("inventory"),
    "clusters": Route("inventory"),
    "changes": Route("orchestrator"),
    "approvals": Route("orchestrator"),
    "tickets": Route("netcfg"),
    "ippools": Route("netcfg"),
    "webhooks": Route("netcfg", needs_token=False),
    "jobs": Route("executor"),
    "netcfg": Route("netcfg"),
}

#: Sub-collections of a cluster that another service owns: /clusters/{name}/<this>...
_CLUSTER_CHILDREN: dict[str, Route] = {
    "ippools": Route("netcfg"),
    "bgp": Route("netcfg"),
    "network": Route("netcfg"),
}


def _collection(segment: str) -> str:
    return segment.split(":", 1)[0]


def route_for(path: str) -> Route | None:
    """The owner of ``path`` (relative to ``/api/v1``, e.g. ``clusters/c1/ippools/p1:enable``),
    or ``None`` when no service owns it."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        return None
    route = _BY_COLLECTION.get(_collection(parts[0]))
    if route is None:
        return None
    if route.service == "inventory" and parts[0] == "clusters" and len(parts) >= 3:
        return _CLUSTER_CHILDREN.get(_collection(parts[2]), route)
    return route
