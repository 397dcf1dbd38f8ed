"""Applying a confirmed ticket to its cluster, all or nothing: the pool, the nodes' network
labels and AS annotations, the route reflectors' label and cluster id, the BGP peers and
(with route reflectors) the BGP configuration. Membership (P8) and the pool (P7) are
checked again first against the cluster as it is now. Each write is logged with how to
undo it; when any write or the final verification fails, the log is undone in reverse,
the ticket fails and nothing is left half-applied. The pool's write is marked on its
record before the pool is written (``pool_writes``), so the drift check never takes the
pool, written but not yet recorded, for drift.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from autorke_common.catalogue.netcfg import IPPoolCreated, TicketApplied
from autorke_common.errors import Problem
from autorke_common.outbox import UnitOfWork

from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.orm import TicketRecord
from autorke_netcfg.domain import pools as rules
from autorke_netcfg.domain import tickets as flow
from autorke_netcfg.domain.tickets import NodeFacts
from autorke_netcfg.service_layer import pool_writes
from autorke_netcfg.service_layer.pools import read_state
from autorke_netcfg.service_layer.ports import Ports, cluster_api, emit, load_cluster, networks
from autorke_netcfg.service_layer.tickets import fail, lock, move

log = logging.getLogger(__name__)


class ApplyFailed(Exception):
    pass


class Applier:
    """Writes with an undo log."""

    def __init__(self, api: ClusterApi) -> None:
        self.api = api
        self.undo: list[tuple[str, Callable[[], Any]]] = []

    def pool(self, pool: rules.Pool, labels: dict[str, str]) -> bool:
        current = self.api.get("ippools", pool.name)
        if current is not None:   # a redelivered apply: ours only if identical
            if rules.Pool.from_resource(current).spec() != pool.spec():
                raise ApplyFailed(f"pool {pool.name} exists with another spec")
            return False
        self.api.create("ippools", "IPPool", pool.name, pool.spec(), labels)
        self.undo.append((f"delete pool {pool.name}", lambda: self.api.delete("ippools", pool.name)))
        return True

    def node(self, name: str, labels: dict[str, str], annotations: dict[str, str]) -> None:
        current = self.api.node(name)
        if current is None:
            raise ApplyFailed(f"node {name} is gone from the cluster")
        meta = current["metadata"]
        old_labels = {k: (meta.get("labels") or {}).get(k) for k in labels}
        old_ann = {k: (meta.get("annotations") or {}).get(k) for k in annotations}
        self.api.patch_node_metadata(name, labels, annotations)
        self.undo.append((f"restore node {name}",
                          lambda: self.api.patch_node_metadata(name, old_labels, old_ann)))

    def resource(self, plural: str, kind: str, name: str, spec: dict[str, Any],
                 labels: dict[str, str]) -> None:
        _, before = self.api.upsert(plural, kind, name, spec, labels)
        if before is None:
            self.undo.append((f"delete {kind} {name}", lambda: self.api.delete(plural, name)))
        else:
            def restore() -> None:
                now = self.api.get(plural, name)
                if now is not None:
                    self.api.replace_spec(plural, now, before.get("spec") or {})
            self.undo.append((f"restore {kind} {name}", restore))

    def rollback(self) -> list[str]:
        problems = []
        for what, step in reversed(self.undo):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - undo as much as possible, report the rest
                problems.append(f"{what}: {type(exc).__name__}")
                log.error("rollback step failed: %s: %s", what, exc)
        self.undo.clear()
        return problems


def _verify(api: ClusterApi, pool: rules.Pool, nodes: dict[str, dict[str, Any]]) -> None:
    got = api.get("ippools", pool.name)
    if got is None or rules.Pool.from_resource(got).spec() != pool.spec():
        raise ApplyFailed(f"pool {pool.name} is not as written")
    for name, want in nodes.items():
        meta = (api.node(name) or {}).get("metadata") or {}
        for key, value in want["labels"].items():
            if (meta.get("labels") or {}).get(key) != value:
                raise ApplyFailed(f"node {name} lacks label {key}={value}")
        for key, value in want["annotations"].items():
            if (meta.get("annotations") or {}).get(key) != value:
                raise ApplyFailed(f"node {name} lacks annotation {key}")


def apply(ports: Ports, ticket_id: str) -> str | None:
    """Apply a confirmed ticket; the resulting status (None: unknown ticket)."""
    with ports.db.unit_of_work() as uow:
        t = uow.session.get(TicketRecord, ticket_id)
        if t is None:
            return None
        if t.status != flow.CONFIRMED:
            return t.status
        record = load_cluster(uow, t.cluster)
        api, nets, cluster_as = cluster_api(ports, record), networks(record), record.bgp_as
        plan, answer = dict(t.plan), dict((t.callback or {}).get("answer") or {})
        cluster = t.cluster
    pool = rules.Pool(**{k: v for k, v in plan["pools"][0].items()})
    applier = Applier(api)
    nodes = flow.desired_node_state(ticket_id, plan, answer)
    write: pool_writes.Write | None = None
    try:
        members = {NodeFacts.from_resource(o).name for o in api.nodes()}
        names = [n["name"] for n in plan["nodes"]]
        flow.check_membership(cluster, names, plan.get("route_reflectors", []), members)
        existing, blocks, _ = read_state(api)
        others = [p for p in existing if p.name != pool.name]
        if not any(p.name == pool.name and p.spec() == pool.spec() for p in existing):
            rules.check_create(pool, nets, others, blocks)
        labels = {flow.TICKET_LABEL: ticket_id}
        # marked before the pool is written and cleared when the ticket records it, so the
        # drift check never sees the pool in the cluster without netcfg's record of it
        write = pool_writes.begin(ports, cluster, pool.name, ticket_id)
        created = applier.pool(pool, labels)
        for name, want in nodes.items():
            applier.node(name, want["labels"], want["annotations"])
        rrs = [rr["node"] for rr in answer.get("route_reflectors", [])]
        for peer in flow.desired_peers(ticket_id, cluster, answer, bool(rrs)):
            applier.resource("bgppeers", "BGPPeer", peer["name"], peer["spec"], peer["labels"])
        if rrs:
            current = api.get("bgpconfigurations", "default")
            spec = {**((current or {}).get("spec") or {}), "nodeToNodeMeshEnabled": False}
            if cluster_as:
                spec["asNumber"] = int(cluster_as)
            applier.resource("bgpconfigurations", "BGPConfiguration", "default", spec, labels)
        _verify(api, pool, nodes)
    except Exception as exc:  # noqa: BLE001 - any failure: undo, fail the ticket cleanly
        leftovers = applier.rollback()
        if write is not None:
            pool_writes.abandon(ports, write)
        detail = exc.detail if isinstance(exc, Problem) else f"{type(exc).__name__}: {exc}"
        reason = exc.slug if isinstance(exc, Problem) and exc.slug == "cross-cluster-peering" \
            else "apply-failed"
        if leftovers:
            detail += f"; rollback incomplete: {'; '.join(leftovers)}"
        with ports.db.unit_of_work() as uow:
            t = lock(uow, ticket_id)
            if t.status == flow.CONFIRMED:
                fail(uow, t, reason, detail)
            uow.commit()
            return t.status
    assert write is not None   # the try above either began the write or returned
    with ports.db.unit_of_work() as uow:
        t = lock(uow, ticket_id)
        if t.status == flow.CONFIRMED:
            _record_applied(uow, t, pool, nodes, answer, rrs, created, write)
            uow.commit()
            return t.status
        status = t.status
    pool_writes.abandon(ports, write)   # the ticket moved on meanwhile: nothing is recorded
    return status


def _record_applied(uow: UnitOfWork, t: TicketRecord, pool: rules.Pool,
                    nodes: dict[str, dict[str, Any]], answer: dict[str, Any], rrs: list[str],
                    created: bool, write: pool_writes.Write) -> None:
    """The ticket applied and its pool recorded (clearing the pool's write mark), with
    their events, in the caller's unit of work."""
    move(t, flow.APPLIED, "applied")
    t.applied = {"pool": pool.name, "nodes": nodes, "route_reflectors": rrs,
                 "bgp_peers": [p["name"] for p in flow.desired_peers(
                     t.id, t.cluster, answer, bool(rrs))]}
    pool_writes.finish(uow, write, pool.spec(), t.confirmed_by)
    if created:
        emit(uow, IPPoolCreated(cluster=t.cluster, pool=pool.name, spec=pool.spec(),
                                actor=t.confirmed_by), aggregate=f"{t.cluster}/{pool.name}",
             correlation_id=t.correlation_id)
    emit(uow, TicketApplied(ticket_id=t.id, cluster=t.cluster, pool=pool.name,
                            nodes=list(nodes), route_reflectors=rrs),
         aggregate=t.id, correlation_id=t.correlation_id)
