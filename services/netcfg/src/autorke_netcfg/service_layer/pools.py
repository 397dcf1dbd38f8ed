"""IP pool changes (DESIGN.md section 3, ``ippool.*``): nothing writes a pool at once.

* :func:`request_change` (REST): the requested change is judged against the cluster as it
  is now (P7, immutable fields: ``domain.pool_changes``); a refused request stores nothing
  and creates nothing. An accepted one becomes an orchestrator change, created as the
  caller, and the pool is marked as having that change pending.
* :func:`check` (``netcfg.ippool.check``, the change's first step): the same judgement,
  again, answered with its verdict (``netcfg.ippool.checked``: the pool before and after,
  and the violations with their slugs).
* :func:`apply` (``netcfg.ippool.apply``, after the approval; and its compensation,
  ``restore``): under the cluster's pool lock (on the database, so replicas never both
  pass the overlap checks), checked once more, written to the cluster with the official
  client (marked in flight first, so the drift check does not take it for drift:
  ``pool_writes``), recorded and announced through the outbox in one transaction, and
  answered (``netcfg.ippool.applied``, or ``netcfg.ippool.refused``: nothing written).

The bus handlers answer every refusal themselves (the orchestrator's step must hear it);
only a cluster or a lock that cannot be had now (503) is left to the bus to redeliver."""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import Message
from autorke_common.catalogue.netcfg import (
    ApplyPool,
    CheckPool,
    IPPoolApplied,
    IPPoolChecked,
    IPPoolCreated,
    IPPoolDeleted,
    IPPoolDisabled,
    IPPoolEnabled,
    IPPoolRefused,
    IPPoolUpdated,
    PoolViolation,
)
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Conflict, DomainError, Problem
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.orm import PoolChangeRow
from autorke_netcfg.adapters.unit_of_work import AlreadyRecorded
from autorke_netcfg.domain import pool_changes, pool_rules
from autorke_netcfg.domain.commands import RequestPoolChange
from autorke_netcfg.domain.pool_changes import Outcome, Spec
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool
from autorke_netcfg.service_layer import pool_writes
from autorke_netcfg.service_layer.cluster_state import (
    KIND,
    PLURAL,
    call,
    cluster_api,
    live_networks,
    load_cluster,
    networks,
    read_state,
)
from autorke_netcfg.service_layer.ports import Ports, emit

CHANGE_TYPE = "ippool.{}"
#: the one refusal the bus redelivers (cluster unreachable, pool lock busy); any other is answered
RETRIED = 503
#: the pool event each operation's write announces
EVENTS = {"create": IPPoolCreated, "update": IPPoolUpdated, "delete": IPPoolDeleted,
          "enable": IPPoolEnabled, "disable": IPPoolDisabled}


class _Live:
    """The cluster as it is now: its API, facts (with the nodes' addresses), pools, IPAM
    blocks and raw pool objects."""

    def __init__(self, ports: Ports, cluster: str) -> None:
        with ports.uow() as uow:
            row = load_cluster(uow, cluster)
            self.api: ClusterApi = cluster_api(ports, row)
            facts = networks(row)
        self.pools, self.blocks, self.raw = read_state(self.api)
        self.nets: ClusterNetworks = live_networks(self.api, facts)

    def spec(self, name: str) -> Spec | None:
        pool = next((p for p in self.pools if p.name == name), None)
        return pool.spec() if pool else None

    @property
    def state(self) -> tuple[ClusterNetworks, list[Pool], list[Block]]:
        return self.nets, self.pools, self.blocks


# -- REST: a change request ---------------------------------------------------------------
def pending_for(ports: Ports, cluster: str, name: str) -> PoolChangeRow | None:
    with ports.uow() as uow:
        return next((r for r in uow.pool_changes.of_cluster(cluster) if r.pool == name), None)


def request_change(cmd: RequestPoolChange, ports: Ports) -> dict[str, Any]:
    """Judge the change now, then create it with the orchestrator: its view (202)."""
    pending = pending_for(ports, cmd.cluster, cmd.name)
    if pending is not None:
        raise Conflict("pool-change-pending", f"IP pool {cmd.cluster}/{cmd.name} has an open change "
                       f"({pending.change_id}, {pending.operation}); decide it first", field="name",
                       change=pending.change_id)
    live = _Live(ports, cmd.cluster)
    outcome = pool_changes.judge(cmd.operation, cmd.name, cmd.spec, *live.state)
    if ports.changes is None:
        raise Problem("orchestrator-unavailable", "The orchestrator cannot be reached", 503,
                      "netcfg has no orchestrator URL (AUTORKE_ORCHESTRATOR_URL): the change was not created")
    params: dict[str, Any] = {"name": cmd.name}
    if cmd.operation in ("create", "update"):
        params["spec"] = outcome.after
    if outcome.before is not None:
        params["previous"] = outcome.before
    change = ports.changes.create(type=CHANGE_TYPE.format(cmd.operation), cluster=cmd.cluster, params=params,
                                  authorization=cmd.authorization)
    _mark_pending(ports, change["id"], cmd.cluster, cmd.name, cmd.operation, outcome.after,
                  change.get("requested_by") or cmd.actor)
    return change


def _mark_pending(ports: Ports, change_id: str, cluster: str, pool: str, operation: str,
                  spec: Spec | None, requested_by: str | None) -> None:
    try:
        with ports.uow() as uow:
            if uow.pool_changes.get(change_id) is None:
                uow.pool_changes.add(PoolChangeRow(change_id=change_id, cluster=cluster, pool=pool,
                                                   operation=operation, spec=spec, requested_by=requested_by,
                                                   created_at=utcnow()))
                uow.commit()
    except AlreadyRecorded:   # the change's check step marked it first
        pass


def change_closed(ports: Ports, change_id: str) -> bool:
    """The change ended (or wrote its pool): its pool is no longer pending."""
    with ports.uow() as uow:
        row = uow.pool_changes.get(change_id)
        if row is None:
            return False
        uow.pool_changes.delete(row)
        uow.commit()
    return True


# -- bus: the change's steps ------------------------------------------------------------------
def _answer(ports: Ports, message: Message, cmd: CheckPool | ApplyPool, envelope: Envelope | None) -> None:
    with ports.uow() as uow:
        emit(uow, message, aggregate=f"{cmd.cluster}/{cmd.pool}", correlation_id=cmd.change_id,
             actor=cmd.requested_by, causation_id=envelope.id if envelope else None)
        uow.commit()


def _refused(ports: Ports, cmd: CheckPool | ApplyPool, error: DomainError | Problem,
             envelope: Envelope | None) -> None:
    _answer(ports, IPPoolRefused(command_id=cmd.command_id, change_id=cmd.change_id, cluster=cmd.cluster,
                                 pool=cmd.pool, command=cmd.TYPE, problem=error.slug,
                                 detail=str(error.detail or error)), cmd, envelope)


def check(cmd: CheckPool, ports: Ports, envelope: Envelope | None = None) -> Outcome | None:
    """The change's check step: the verdict, answered (never raised, but for a 503)."""
    _mark_pending(ports, cmd.change_id, cmd.cluster, cmd.pool, cmd.operation, cmd.spec, cmd.requested_by)
    try:
        live = _Live(ports, cmd.cluster)
    except Problem as exc:
        if exc.status == RETRIED:
            raise
        _refused(ports, cmd, exc, envelope)
        return None
    violations: list[PoolViolation] = []
    outcome = Outcome(live.spec(cmd.pool), None)
    try:
        if cmd.previous is not None:
            pool_changes.unchanged_since(cmd.pool, pool_changes.spec_of(cmd.pool, cmd.previous), live.pools,
                                         cmd.cluster)
        outcome = pool_changes.judge(cmd.operation, cmd.pool, cmd.spec, *live.state)
    except DomainError as exc:
        violations.append(PoolViolation(slug=exc.slug, detail=exc.detail, field=exc.extensions.get("field")))
    _answer(ports, IPPoolChecked(command_id=cmd.command_id, change_id=cmd.change_id, cluster=cmd.cluster,
                                 pool=cmd.pool, operation=cmd.operation, before=outcome.before,
                                 after=outcome.after, violations=violations), cmd, envelope)
    return outcome


def apply(cmd: ApplyPool, ports: Ports, envelope: Envelope | None = None) -> bool:
    """The change's action (or its ``restore``): True when the pool is as wanted now."""
    try:
        with ports.pool_lock(cmd.cluster):
            written = _apply_locked(cmd, ports)
    except Problem as exc:
        if exc.status == RETRIED:
            raise
        _refused(ports, cmd, exc, envelope)
        return False
    except DomainError as exc:
        _refused(ports, cmd, exc, envelope)
        return False
    _answer(ports, IPPoolApplied(command_id=cmd.command_id, change_id=cmd.change_id, cluster=cmd.cluster,
                                 pool=cmd.pool, operation=cmd.operation, before=cmd.before,
                                 after=cmd.after), cmd, envelope)
    return written


def _apply_locked(cmd: ApplyPool, ports: Ports) -> bool:
    live = _Live(ports, cmd.cluster)
    now = live.spec(cmd.pool)
    if now == cmd.after:   # done already (a re-sent command, or nothing to undo)
        _settle(ports, cmd)
        return True
    pool_changes.unchanged_since(cmd.pool, cmd.before, live.pools, cmd.cluster)
    target = pool_rules.normalise(cmd.pool, cmd.after) if cmd.after is not None else None
    nets, existing, blocks = live.state
    if cmd.operation == "restore":
        operation = "create" if now is None else "delete" if target is None else "update"
    else:
        operation = cmd.operation
    if now is None:
        pool_rules.check_create(target, nets, existing, blocks)
    elif target is None:
        pool_rules.check_delete(Pool(**now, name=cmd.pool), blocks)
    elif cmd.operation != "restore":   # a restore puts back what was there
        pool_rules.check_update(Pool(**now, name=cmd.pool), target, nets, existing, blocks)
    actor = cmd.requested_by or cmd.change_id
    with pool_writes.writing(ports, cmd.cluster, cmd.pool, actor) as write:
        if now is None:
            call(live.api.create, PLURAL, KIND, cmd.pool, target.spec())
        elif target is None:
            call(live.api.delete, PLURAL, cmd.pool)
        else:
            raw = live.raw[cmd.pool]
            call(live.api.replace_spec, PLURAL, raw, {**(raw.get("spec") or {}), **target.spec()})
        with ports.uow() as uow:
            pool_writes.finish(uow, write, target.spec() if target else None, actor)
            event = EVENTS.get(cmd.operation) or EVENTS[operation]
            emit(uow, event(cluster=cmd.cluster, pool=cmd.pool, spec=(target or Pool(**now, name=cmd.pool)).spec(),
                            actor=actor, change_id=cmd.change_id), aggregate=f"{cmd.cluster}/{cmd.pool}",
                 correlation_id=cmd.change_id, actor=actor)
            _clear_pending(uow, cmd)
            uow.commit()
    return True


def _clear_pending(uow: Any, cmd: ApplyPool) -> None:
    row = uow.pool_changes.get(cmd.change_id)
    if row is not None and cmd.operation != "restore":
        uow.pool_changes.delete(row)


def _settle(ports: Ports, cmd: ApplyPool) -> None:
    with ports.uow() as uow:
        _clear_pending(uow, cmd)
        uow.commit()
