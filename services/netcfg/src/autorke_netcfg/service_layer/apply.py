"""Applying a confirmed ticket to its cluster, all or nothing: the pool, the nodes' network
labels and AS annotations, the route reflectors' label and cluster id, the BGP peers and
(with route reflectors) the BGP configuration. Membership (P8), the answer and the pool
(P7) are checked again first against the cluster as it is now; the BGP peers are built
from the plan's racks and nodes (``ticket_rules.desired_peers``), never from the answer's
selectors. Each write is logged with how to undo it; when any write or the final
verification fails, the log is undone in reverse, the ticket fails and nothing is left
half-applied. An applied ticket keeps what was there before each write (``applied``'s
``before``), so that ``revert`` can take it back later (``domain.revert_rules``). The
pool's write is marked on its record before the pool is written (``pool_writes``), so the
drift check never takes the pool, written but not yet recorded, for drift.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autorke_common.catalogue.netcfg import ApplyTicket, IPPoolCreated, TicketApplied
from autorke_common.envelope import Envelope
from autorke_common.errors import DomainError, Problem
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.domain import pool_rules, revert_rules, ticket_rules
from autorke_netcfg.domain.pool_rules import ClusterNetworks, Pool
from autorke_netcfg.domain.ticket_rules import NodeFacts
from autorke_netcfg.service_layer import pool_writes
from autorke_netcfg.service_layer.cluster_state import cluster_api, load_cluster, networks, read_state
from autorke_netcfg.service_layer.ports import Ports, emit
from autorke_netcfg.service_layer.tickets import fail, lock, move, refusal_reason

log = logging.getLogger(__name__)


class ApplyFailed(Exception):
    pass


class Applier:
    """Writes with an undo log, and a record of what each write replaced (``before``: per
    node the old value of each key written, None when unknown; per object ``plural/name``
    its spec and labels, None when created: ``revert_rules.prior_of``)."""

    def __init__(self, api: ClusterApi, ticket_id: str) -> None:
        self.api, self.ticket_id = api, ticket_id
        self.undo: list[tuple[str, Callable[[], Any]]] = []
        self.before: dict[str, dict[str, Any]] = {"nodes": {}, "objects": {}}

    def pool(self, pool: Pool, labels: dict[str, str]) -> bool:
        current = self.api.get("ippools", pool.name)
        if current is not None:   # a redelivered apply: ours only if identical
            if Pool.from_resource(current).spec() != pool.spec():
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
        # old values written by this ticket's own earlier attempt say nothing of the node before it
        own = revert_rules.owned_by(self.ticket_id, current)
        self.before["nodes"][name] = None if own else {"labels": old_labels, "annotations": old_ann}
        self.api.patch_node_metadata(name, labels, annotations)
        self.undo.append((f"restore node {name}",
                          lambda: self.api.patch_node_metadata(name, old_labels, old_ann)))

    def resource(self, plural: str, kind: str, name: str, spec: dict[str, Any],
                 labels: dict[str, str]) -> None:
        _, before = self.api.upsert(plural, kind, name, spec, labels)
        self.before["objects"][f"{plural}/{name}"] = revert_rules.prior_of(self.ticket_id, before)
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


def _verify(api: ClusterApi, pool: Pool, nodes: dict[str, dict[str, Any]]) -> None:
    got = api.get("ippools", pool.name)
    if got is None or Pool.from_resource(got).spec() != pool.spec():
        raise ApplyFailed(f"pool {pool.name} is not as written")
    for name, want in nodes.items():
        meta = (api.node(name) or {}).get("metadata") or {}
        for key, value in want["labels"].items():
            if (meta.get("labels") or {}).get(key) != value:
                raise ApplyFailed(f"node {name} lacks label {key}={value}")
        for key, value in want["annotations"].items():
            if (meta.get("annotations") or {}).get(key) != value:
                raise ApplyFailed(f"node {name} lacks annotation {key}")


@dataclass
class Attempt:
    """One try at applying a confirmed ticket: what is to be written where, the undo log,
    and, once begun, the pool's write mark and whether the pool was created by it."""

    ticket_id: str
    cluster: str
    api: ClusterApi
    nets: ClusterNetworks
    cluster_as: int | None
    plan: dict[str, Any]
    answer: dict[str, Any]
    pool: Pool
    nodes: dict[str, dict[str, Any]]   # per node, the labels and annotations to write
    applier: Applier
    write: pool_writes.Write | None = None
    created: bool = False

    @property
    def route_reflectors(self) -> list[str]:
        return [rr["node"] for rr in self.answer.get("route_reflectors", [])]

    def peers(self) -> list[dict[str, Any]]:
        return ticket_rules.desired_peers(self.ticket_id, self.cluster, self.plan, self.answer,
                                          bool(self.route_reflectors))


def apply(cmd: ApplyTicket, ports: Ports, envelope: Envelope | None = None) -> str | None:
    """Apply a confirmed ticket; the resulting status (None: unknown ticket). A redelivery
    needs no inbox mark (``envelope`` is not used): only a confirmed ticket is applied, and
    a pool already there as planned is taken as this ticket's own."""
    attempt = _confirmed(ports, cmd.ticket_id)
    if not isinstance(attempt, Attempt):
        return attempt
    with ports.pool_lock(attempt.cluster):   # no pool write of the cluster in between
        try:
            _check(attempt)
            _write(ports, attempt)
        except Exception as exc:  # noqa: BLE001 - any failure: undo, fail the ticket cleanly
            return _undo(ports, attempt, exc)
        return _record(ports, attempt)


def _confirmed(ports: Ports, ticket_id: str) -> Attempt | str | None:
    """The attempt at a confirmed ticket; otherwise its status (None: unknown ticket)."""
    with ports.uow() as uow:
        t = uow.tickets.get(ticket_id)
        if t is None:
            return None
        if t.status != ticket_rules.CONFIRMED:
            return t.status
        row = load_cluster(uow, t.cluster)
        api, nets, cluster_as = cluster_api(ports, row), networks(row), row.bgp_as
        plan, answer, cluster = dict(t.plan), dict((t.callback or {}).get("answer") or {}), t.cluster
    return Attempt(ticket_id, cluster, api, nets, cluster_as, plan, answer, Pool(**plan["pools"][0]),
                   ticket_rules.desired_node_state(ticket_id, plan, answer), Applier(api, ticket_id))


def _check(attempt: Attempt) -> None:
    """Membership (P8), the answer (against the cluster's host networks now) and the pool
    (P7) again, against the cluster as it is now."""
    api, pool, plan = attempt.api, attempt.pool, attempt.plan
    node_objects = api.nodes()
    members = {NodeFacts.from_resource(o).name for o in node_objects}
    ticket_rules.check_membership(attempt.cluster, [n["name"] for n in plan["nodes"]],
                                  plan.get("route_reflectors", []), members)
    ticket_rules.check_answer(attempt.ticket_id, plan, attempt.answer, attempt.nets.host_networks)
    existing, blocks, _ = read_state(api)
    others = [p for p in existing if p.name != pool.name]
    if not any(p.name == pool.name and p.spec() == pool.spec() for p in existing):
        pool_rules.check_create(pool, attempt.nets.with_nodes(node_objects), others, blocks)


def _write(ports: Ports, attempt: Attempt) -> None:
    """Every write, each logged with its undo, then verified."""
    applier, pool, nodes, ticket_id = attempt.applier, attempt.pool, attempt.nodes, attempt.ticket_id
    labels = {ticket_rules.TICKET_LABEL: ticket_id}
    # marked before the pool is written and cleared when the ticket records it, so the
    # drift check never sees the pool in the cluster without netcfg's record of it
    attempt.write = pool_writes.begin(ports, attempt.cluster, pool.name, ticket_id)
    attempt.created = applier.pool(pool, labels)
    for name, want in nodes.items():
        applier.node(name, want["labels"], want["annotations"])
    for peer in attempt.peers():
        applier.resource("bgppeers", "BGPPeer", peer["name"], peer["spec"], peer["labels"])
    if attempt.route_reflectors:
        current = attempt.api.get("bgpconfigurations", "default")
        spec = {**((current or {}).get("spec") or {}), "nodeToNodeMeshEnabled": False}
        if attempt.cluster_as:
            spec["asNumber"] = int(attempt.cluster_as)
        applier.resource("bgpconfigurations", "BGPConfiguration", "default", spec, labels)
    _verify(attempt.api, pool, nodes)


def _undo(ports: Ports, attempt: Attempt, exc: Exception) -> str:
    """Undo what was written (the cluster first, then the pool's mark), fail the ticket."""
    leftovers = attempt.applier.rollback()
    if attempt.write is not None:
        pool_writes.abandon(ports, attempt.write)
    if isinstance(exc, (Problem, DomainError)):
        reason, detail = refusal_reason(exc, "apply-failed")
    else:
        reason, detail = "apply-failed", f"{type(exc).__name__}: {exc}"
    if leftovers:
        detail += f"; rollback incomplete: {'; '.join(leftovers)}"
    with ports.uow() as uow:
        t = lock(uow, attempt.ticket_id)
        if t.status == ticket_rules.CONFIRMED:
            fail(uow, t, reason, detail)
        uow.commit()
        return t.status


def _record(ports: Ports, attempt: Attempt) -> str:
    """The ticket applied and its pool recorded (clearing the pool's write mark), with
    their events, in one unit of work; if the ticket moved on meanwhile, nothing is."""
    write, pool, nodes, rrs = attempt.write, attempt.pool, attempt.nodes, attempt.route_reflectors
    assert write is not None   # _write begins the write before anything else it does
    with ports.uow() as uow:
        t = lock(uow, attempt.ticket_id)
        status = t.status
        if status == ticket_rules.CONFIRMED:
            move(t, ticket_rules.APPLIED, "applied")
            t.applied = {"pool": pool.name, "nodes": nodes, "route_reflectors": rrs,
                         "bgp_peers": [p["name"] for p in attempt.peers()],
                         "before": attempt.applier.before}
            pool_writes.finish(uow, write, pool.spec(), t.confirmed_by)
            if attempt.created:
                emit(uow, IPPoolCreated(cluster=t.cluster, pool=pool.name, spec=pool.spec(),
                                        actor=t.confirmed_by), aggregate=f"{t.cluster}/{pool.name}",
                     correlation_id=t.correlation_id)
            emit(uow, TicketApplied(ticket_id=t.id, cluster=t.cluster, pool=pool.name,
                                    nodes=list(nodes), route_reflectors=rrs),
                 aggregate=t.id, correlation_id=t.correlation_id)
            uow.commit()
            return t.status
    pool_writes.abandon(ports, write)   # the ticket moved on meanwhile: nothing is recorded
    return status
