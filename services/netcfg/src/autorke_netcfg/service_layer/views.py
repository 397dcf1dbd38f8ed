"""netcfg's read side: what the REST API shows of the clusters netcfg knows, of a
cluster's IP pools (read live from the cluster, beside netcfg's record of each, with its
drift and the open ``ippool.*`` change that will write it: ``pending_change``; a pool an
open change will create is listed too, ``in_cluster`` false) and of flat-network tickets.
Every list is a :class:`~autorke_common.rest.Page` (``{"items", "next_cursor"}``) in a
total order: clusters and pools by name, tickets newest first (ties by id)."""
from __future__ import annotations

from typing import Any

from autorke_common.envelope import aware
from autorke_common.errors import not_found
from autorke_common.rest import Cursor, Page, page_of
from autorke_netcfg.adapters.orm import ClusterRow, PoolChangeRow, PoolRow, TicketRow
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.domain.pool_rules import Block, Pool, blocks_in, differences
from autorke_netcfg.service_layer.cluster_state import cluster_api, load_cluster, read_state
from autorke_netcfg.service_layer.ports import Ports

BY_NAME, NEWEST_FIRST = "name", "-created_at"


# -- clusters ---------------------------------------------------------------------------
def cluster_view(row: ClusterRow) -> dict[str, Any]:
    """What an admin sees: every fact but the kubeconfig (only whether there is one)."""
    return {"name": row.name, "provider": row.provider, "api_endpoint": row.api_endpoint,
            "host_networks": list(row.host_networks or []), "pod_cidr": row.pod_cidr,
            "service_cidr": row.service_cidr, "bgp_as": row.bgp_as,
            "has_kubeconfig": bool(row.kubeconfig_sealed),
            "updated_at": aware(row.updated_at).isoformat()}


def list_clusters(ports: Ports, limit: int, cursor: str | None = None) -> Page:
    after = Cursor.decode(cursor, BY_NAME)
    with ports.uow() as uow:
        rows = uow.clusters.page(limit, after)
    return page_of(rows, limit, key=lambda r: (r.name, r.name), sort=BY_NAME, view=cluster_view)


def get_cluster(ports: Ports, name: str) -> dict[str, Any]:
    with ports.uow() as uow:
        return cluster_view(load_cluster(uow, name))


# -- IP pools ---------------------------------------------------------------------------
def pending_view(row: PoolChangeRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.change_id, "type": f"ippool.{row.operation}", "operation": row.operation,
            "requested_by": row.requested_by, "spec": row.spec, "href": f"/api/v1/changes/{row.change_id}"}


def pool_view(cluster: str, pool: Pool | None, record: PoolRow | None, blocks: list[Block],
              name: str | None = None, pending: PoolChangeRow | None = None) -> dict[str, Any]:
    """A pool as the cluster holds it (or netcfg's record of one gone from it, or the one an
    open change will create), whether netcfg manages it, its drift, how many blocks and
    addresses it has in use, and the open change that will write it."""
    if pool is None and (record is None or not record.spec) and pending is not None:
        return {"cluster": cluster, "name": pending.pool, **(pending.spec or {}), "in_cluster": False,
                "managed": False, "drift": None, "blocks": 0, "allocated": 0,
                "pending_change": pending_view(pending)}
    drift: dict[str, Any] | None = None
    managed = record is not None and bool(record.spec)
    if pool is None:
        drift = {"kind": "missing"}
    elif managed:
        diffs = differences(record.spec, pool.spec())
        drift = {"kind": "changed", "differences": diffs} if diffs else None
    elif record is None or not record.spec:
        drift = {"kind": "unmanaged"}
    spec = pool.spec() if pool else (record.spec if record else {})
    usage = blocks_in(pool.network, blocks) if pool else []
    return {"cluster": cluster, "name": pool.name if pool else (name or record.name), **spec,
            "in_cluster": pool is not None, "managed": managed, "drift": drift,
            "blocks": len(usage), "allocated": sum(b.allocated for b in usage),
            "pending_change": pending_view(pending)}


def _cluster_pools(ports: Ports, cluster: str) -> tuple[list[Pool], list[Block], dict[str, PoolRow],
                                                        dict[str, PoolChangeRow]]:
    """The cluster's pools and blocks, read live, netcfg's records of its pools and the
    open changes of its pools (the oldest per pool)."""
    with ports.uow() as uow:
        api = cluster_api(ports, load_cluster(uow, cluster))
    pools, blocks, _ = read_state(api)
    with ports.uow() as uow:
        records = {r.name: r for r in uow.pools.of_cluster(cluster)}
        pending: dict[str, PoolChangeRow] = {}
        for row in uow.pool_changes.of_cluster(cluster):
            pending.setdefault(row.pool, row)
    return pools, blocks, records, pending


def list_pools(ports: Ports, cluster: str, limit: int, cursor: str | None = None) -> Page:
    """The cluster's pools, the recorded pools gone from it and the pools open changes will
    create, by name."""
    after = Cursor.decode(cursor, BY_NAME)
    pools, blocks, records, pending = _cluster_pools(ports, cluster)
    views = [pool_view(cluster, p, records.get(p.name), blocks, pending=pending.get(p.name)) for p in pools]
    seen = {p.name for p in pools}
    views += [pool_view(cluster, None, r, blocks, pending=pending.get(n))
              for n, r in records.items() if n not in seen and r.spec]
    seen |= {n for n, r in records.items() if r.spec}
    views += [pool_view(cluster, None, None, blocks, n, pending=c) for n, c in pending.items() if n not in seen]
    views.sort(key=lambda v: v["name"])
    rows = [v for v in views if after is None or v["name"] > after.key][:limit + 1]
    return page_of(rows, limit, key=lambda v: (v["name"], v["name"]), sort=BY_NAME)


def get_pool(ports: Ports, cluster: str, name: str) -> dict[str, Any]:
    pools, blocks, records, pending = _cluster_pools(ports, cluster)
    record, change = records.get(name), pending.get(name)
    pool = next((p for p in pools if p.name == name), None)
    if pool is None and (record is None or not record.spec) and change is None:
        raise not_found("IP pool", f"{cluster}/{name}")
    return pool_view(cluster, pool, record, blocks, name, pending=change)


# -- tickets ----------------------------------------------------------------------------
def ticket_view(t: TicketRow) -> dict[str, Any]:
    return {"id": t.id, "cluster": t.cluster, "status": t.status, "requested_by": t.requested_by,
            "approved_by": t.approved_by, "confirmed_by": t.confirmed_by, "plan": t.plan,
            "comment": t.comment, "vcalico_ticket_id": t.vcalico_ticket_id,
            "submit_attempts": t.submit_attempts, "callback": t.callback, "applied": t.applied,
            "failure": ({"reason": t.failure_reason, "detail": t.failure_detail,
                         "retryable": ticket_rules.can_retry(t.status, t.failure_reason)}
                        if t.status == ticket_rules.FAILED else None),
            "correlation_id": t.correlation_id,
            "created_at": t.created_at.isoformat(), "updated_at": t.updated_at.isoformat()}


def list_tickets(ports: Ports, limit: int, cursor: str | None = None, cluster: str | None = None,
                 status: str | None = None) -> Page:
    after = Cursor.decode(cursor, NEWEST_FIRST)
    with ports.uow() as uow:
        rows = uow.tickets.page(limit, after, cluster, status)
    return page_of(rows, limit, key=lambda t: (t.created_at, t.id), sort=NEWEST_FIRST, view=ticket_view)


def get_ticket(ports: Ports, ticket_id: str) -> dict[str, Any]:
    with ports.uow() as uow:
        t = uow.tickets.get(ticket_id)
        if t is None:
            raise not_found("ticket", ticket_id)
        return ticket_view(t)
