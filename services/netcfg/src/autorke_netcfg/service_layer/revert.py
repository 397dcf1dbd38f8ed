"""Reverting a ticket (``netcfg.ticket.revert``): the orchestrator's compensation of a
node.add's flat-network steps. Every revert is answered by ``netcfg.ticket.reverted``, so
the orchestrator always hears one answer:

* an applied ticket: what apply wrote is taken back off the cluster, with the adapters
  apply writes through, under the cluster's pool lock (``domain.revert_rules`` decides
  what is still the ticket's): the BGP configuration and the BGP peers it created or
  replaced (and any peer labelled with the ticket), the labels and annotations it wrote on
  the nodes, and its pool unless an address of it is in use (then kept, and named in
  ``removed["kept_pools"]``). The ticket then moves to ``reverted`` and the answer
  (``removed``: ``peers``, ``pools``, ``nodes``, and ``bgp_configuration`` and
  ``kept_pools`` when not empty) leaves in the same unit of work, with an
  ``ippool.deleted`` for each pool deleted. A cluster write that fails leaves the ticket
  ``applied``: the command is redelivered (503) or dead-lettered, and a revert again
  takes back what is left;
* a ticket not applied yet (planned, approved, submitted, callback received) is
  cancelled, as ``tickets.cancel`` does, and answered with nothing removed; a confirmed
  one is being applied: the command comes back once that is done;
* a ticket already reverted, cancelled or failed is answered again (what its revert
  removed, or nothing). A redelivered command has one effect (the inbox mark).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autorke_common.catalogue.netcfg import IPPoolDeleted, RevertTicket, TicketFailed, TicketReverted
from autorke_common.envelope import Envelope
from autorke_common.errors import DomainError, TemporaryError
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.orm import TicketRow
from autorke_netcfg.domain import pool_rules, revert_rules, ticket_rules
from autorke_netcfg.domain.pool_rules import Pool
from autorke_netcfg.service_layer import pool_writes
from autorke_netcfg.service_layer.cluster_state import PLURAL, call, cluster_api, load_cluster, read_state
from autorke_netcfg.service_layer.ports import Ports, emit
from autorke_netcfg.service_layer.tickets import lock, move
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork

CONSUMER = RevertTicket.TYPE
#: how long a revert of a ticket still being applied waits before it is tried again
APPLYING_RETRY_S = 10.0


@dataclass
class Reversal:
    """One revert of an applied ticket: where, what apply recorded, and what was taken back."""

    ticket_id: str
    cluster: str
    api: ClusterApi
    plan: dict[str, Any]
    applied: dict[str, Any]
    peers: list[str] = field(default_factory=list)
    bgp_configuration: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    deleted: list[tuple[Pool, pool_writes.Write]] = field(default_factory=list)
    kept_pools: list[str] = field(default_factory=list)

    def removed(self) -> dict[str, list[str]]:
        out = {"peers": sorted(self.peers), "pools": [p.name for p, _ in self.deleted], "nodes": self.nodes}
        if self.bgp_configuration:
            out["bgp_configuration"] = self.bgp_configuration
        if self.kept_pools:
            out["kept_pools"] = self.kept_pools
        return out


def revert(cmd: RevertTicket, ports: Ports, envelope: Envelope | None = None) -> str:
    """Revert, cancel or answer again (see the module); the ticket's status afterwards."""
    with ports.uow() as uow:
        t = lock(uow, cmd.ticket_id)
        if envelope and uow.already_processed(CONSUMER, envelope.id):
            return t.status
        if t.status == ticket_rules.CONFIRMED:
            raise TemporaryError(f"ticket {t.id} is being applied; it is reverted once applied",
                                 delay=APPLYING_RETRY_S)
        if t.status != ticket_rules.APPLIED:
            _answer_unapplied(uow, t, cmd.requested_by)
            uow.commit()
            return t.status
        row = load_cluster(uow, t.cluster)
        reversal = Reversal(t.id, t.cluster, cluster_api(ports, row), dict(t.plan), dict(t.applied or {}))
    with ports.pool_lock(reversal.cluster):   # no pool write of the cluster in between
        try:
            _take_back(ports, reversal)
            return _record(ports, reversal, cmd.requested_by, envelope)
        except BaseException:
            for _, write in reversal.deleted:
                pool_writes.abandon(ports, write)
            raise


def _answer(uow: UnitOfWork, t: TicketRow, removed: dict[str, list[str]], actor: str) -> None:
    emit(uow, TicketReverted(ticket_id=t.id, cluster=t.cluster, removed=removed),
         aggregate=t.id, correlation_id=t.correlation_id, actor=actor)


def _answer_unapplied(uow: UnitOfWork, t: TicketRow, actor: str) -> None:
    """An open ticket is cancelled (nothing was applied); an ended one answered again."""
    removed: dict[str, list[str]] = {}
    if t.status in ticket_rules.OPEN:
        move(t, ticket_rules.CANCELLED, "cancelled")
        emit(uow, TicketFailed(ticket_id=t.id, cluster=t.cluster, reason="cancelled",
                               detail=f"cancelled by {actor}: reverted before it was applied"),
             aggregate=t.id, correlation_id=t.correlation_id, actor=actor)
    elif t.status == ticket_rules.REVERTED:
        removed = dict((t.applied or {}).get("reverted") or {})
    _answer(uow, t, removed, actor)


def _take_back(ports: Ports, r: Reversal) -> None:
    """The cluster writes: the BGP configuration first (the node-to-node mesh is back
    before the route reflectors' peering goes), the peers, the nodes, the pools last."""
    api, tid = r.api, r.ticket_id
    before = r.applied.get("before") or {}
    objects: dict[str, Any] = dict(before.get("objects") or {})
    for peer in call(api.list, "bgppeers", f"{ticket_rules.TICKET_LABEL}={tid}"):
        objects.setdefault(f"bgppeers/{peer['metadata']['name']}", None)
    for key in sorted(objects, key=lambda k: (not k.startswith("bgpconfigurations/"), k)):
        plural, _, name = key.partition("/")
        prior, current = objects[key], call(api.get, plural, name)
        undo = revert_rules.object_undo(tid, prior, current)
        if undo == "delete":
            call(api.delete, plural, name)
        elif undo == "restore":
            assert current is not None and prior is not None   # object_undo: both are there
            meta = {**current["metadata"], "labels": prior["labels"]}
            call(api.replace_spec, plural, {**current, "metadata": meta}, prior["spec"])
        if undo:
            (r.peers if plural == "bgppeers" else r.bgp_configuration).append(name)
    for name, written in (r.applied.get("nodes") or {}).items():
        patch = revert_rules.node_patch(tid, written, (before.get("nodes") or {}).get(name), call(api.node, name))
        if patch:
            call(api.patch_node_metadata, name, patch["labels"], patch["annotations"])
            r.nodes.append(name)
    _, blocks, raw = read_state(api)
    for planned in r.plan.get("pools") or []:
        current = raw.get(planned["name"])
        if current is None or not revert_rules.owned_by(tid, current):
            continue   # gone already, or there before the ticket: not the ticket's to delete
        pool = Pool.from_resource(current)
        try:
            pool_rules.check_delete(pool, blocks)
        except DomainError:   # addresses of it in use: kept, and said so
            r.kept_pools.append(pool.name)
            continue
        write = pool_writes.begin(ports, r.cluster, pool.name, tid)
        r.deleted.append((pool, write))
        call(api.delete, PLURAL, pool.name)


def _record(ports: Ports, r: Reversal, actor: str, envelope: Envelope | None) -> str:
    """The ticket reverted, its pools' records, and the answers, in one unit of work."""
    removed = r.removed()
    with ports.uow() as uow:
        t = lock(uow, r.ticket_id)
        duplicate = envelope is not None and uow.already_processed(CONSUMER, envelope.id)
        for pool, write in r.deleted:
            pool_writes.finish(uow, write, None, actor)
            emit(uow, IPPoolDeleted(cluster=r.cluster, pool=pool.name, spec=pool.spec(), actor=actor),
                 aggregate=f"{r.cluster}/{pool.name}", correlation_id=t.correlation_id, actor=actor)
        if t.status == ticket_rules.APPLIED:
            move(t, ticket_rules.REVERTED, "reverted")
            t.applied = {**(t.applied or {}), "reverted": removed}
            _answer(uow, t, removed, actor)
        elif not duplicate:   # another revert got there first: answered as it was
            _answer_unapplied(uow, t, actor)
        uow.commit()
        return t.status
