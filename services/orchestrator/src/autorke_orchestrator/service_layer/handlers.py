"""The orchestrator's use cases, one unit of work each: create (plan) a change, decide an
approval, retry, continue, cancel, take a job's results, resume open changes. Each loads
the change, lets the saga decide, saves the change, and writes the orders and events to
the outbox in the same transaction — so a crash anywhere leaves either all of it or none.

Handlers are ``(command, uow)``: the unit of work (:mod:`.unit_of_work`) is entered once per
attempt (a change saved meanwhile by another handler is loaded again and decided afresh).
Refusals are domain errors (:mod:`autorke_common.errors`), mapped to problem+json by the app."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from autorke_common.catalogue.orchestrator import BlastRadiusOut, ChangeCreated
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, Forbidden, Invalid, Missing, TemporaryError
from autorke_orchestrator.adapters.repository import StaleChange
from autorke_orchestrator.domain import node_specs, saga, stuck
from autorke_orchestrator.domain.flow import ClusterView, Flow, FlowContext
from autorke_orchestrator.domain.flows import flow_for
from autorke_orchestrator.domain.model import Change
from autorke_orchestrator.domain.planning import context, plan, resolve_flow
from autorke_orchestrator.service_layer.commands import (
    EVERY_TARGET,
    CancelChange,
    ContinueChange,
    CreateChange,
    DecideApproval,
    ForceCancelChange,
    RetryChange,
    TakeResults,
)
from autorke_orchestrator.service_layer.dispatch import SOURCE, send
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

#: Flows whose jobs reach the targets over SSH: a target without an endpoint is refused at plan.
SSH_FLOWS = ("machine.init", "machine.cleanup", "node.add", "node.add_core")
#: Change types that may name machines the inventory does not know (an etcd node of the cluster).
ANY_TARGETS = ("etcd.snapshot", "etcd.restore")


def _flow_ctx(uow: UnitOfWork, change: Change) -> tuple[Flow, FlowContext]:
    """What a step sees: the change's own machines and the cluster (its members load only
    if the flow reads them), so a step costs the same on a cluster of 10 or 1,000 nodes."""
    cluster = uow.directory.cluster(change.cluster)
    flow = flow_for(change.type, cluster.provider if cluster else None, change.params)
    ctx = FlowContext(change.type, cluster, change.active_targets(), change.params,
                      uow.directory.machines(change.targets), StepResults(change), Approvers(change),
                      Attempts(change), change.id)
    return flow, ctx


class Approvers(Mapping[str, str]):
    """Who approved each gate (the last approval), read live: the step after a gate, started
    in the unit of work of the decision, sees who decided."""

    def __init__(self, change: Change) -> None:
        self._change = change

    def _now(self) -> dict[str, str]:
        return {a.step_id: a.by for a in self._change.approvals if a and a.decision == "approve"}

    def __getitem__(self, step_id: str) -> str:
        return self._now()[step_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now())

    def __len__(self) -> int:
        return len(self._now())


class Attempts(Mapping[str, int]):
    """Each step's current attempt, read live (a step's job is made after its attempt is counted)."""

    def __init__(self, change: Change) -> None:
        self._change = change

    def __getitem__(self, step_id: str) -> int:
        step = next((s for s in self._change.steps if s.id == step_id), None)
        if step is None:
            raise KeyError(step_id)
        return step.attempt

    def __iter__(self) -> Iterator[str]:
        return iter([s.id for s in self._change.steps])

    def __len__(self) -> int:
        return len(self._change.steps)


class StepResults(Mapping[str, dict[str, dict[str, Any]]]):
    """What each step's targets reported, read live from the change: a step started right
    after results came in (same unit of work) sees them."""

    def __init__(self, change: Change) -> None:
        self._change = change

    def __getitem__(self, step_id: str) -> dict[str, dict[str, Any]]:
        step = next((s for s in self._change.steps if s.id == step_id), None)
        if step is None:
            raise KeyError(step_id)
        return {h: dict(t.result or {}) for h, t in step.targets.items()}

    def __iter__(self) -> Iterator[str]:
        return iter([s.id for s in self._change.steps])

    def __len__(self) -> int:
        return len(self._change.steps)


def _commit(uow: UnitOfWork, change: Change, orders: list[saga.Order], actor: str,
            cluster: ClusterView | None) -> None:
    for order in orders:
        send(uow, change, order, cluster, actor)
    if change.closed:
        uow.locks.release_machines(change.id)
        if change.cluster:
            uow.locks.release_config(change.cluster, change.id)
    for message, who in change.events:
        uow.emit(Envelope.of(message, source=SOURCE, correlation_id=change.id, actor=who), aggregate=change.id)
    change.events.clear()
    uow.changes.save(change)
    uow.commit()  # wakes the outbox relay at once (Database.notify_outbox_written)


def _emit_recovered(uow: UnitOfWork) -> Callable:
    def emit(event: Any) -> None:
        uow.emit(Envelope.of(event, source=SOURCE, correlation_id=event.change_id, actor="system"))
    return emit


def _retrying(fn: Callable[[], Any], attempts: int = 5) -> Any:
    for i in range(attempts):
        try:
            return fn()
        except StaleChange:
            if i == attempts - 1:
                raise TemporaryError("change modified concurrently", 0.2) from None
    return None


Decide = Callable[[Change, Flow, FlowContext, saga.ConfigLocks], list[saga.Order]]


def _operate(uow: UnitOfWork, change_id: str, actor: str, decide: Decide, quiet: bool = False) -> Change:
    def once() -> Change:
        with uow:
            change = uow.changes.get(change_id)
            if change is None:
                raise Missing("not-found", f"change {change_id!r} does not exist")
            flow, ctx = _flow_ctx(uow, change)
            waiting = change.waiting_for
            orders = decide(change, flow, ctx, uow.locks.config(_emit_recovered(uow)))
            if quiet and not orders and not change.events and change.waiting_for == waiting:
                return change  # nothing moved: no write
            _commit(uow, change, orders, actor, ctx.cluster)
            return change
    return _retrying(once)


# -- use cases ---------------------------------------------------------------------------
def create_change(cmd: CreateChange, uow: UnitOfWork) -> Change:
    """Validate and plan; unless ``dry_run``, store it, lock its machines and start it."""
    request, actor = cmd.request, cmd.actor
    with uow:
        cluster = uow.directory.cluster(request.cluster)
        flow = resolve_flow(request, cluster)
        names, unknown = uow.directory.resolve(request.targets)
        if unknown and request.type not in ANY_TARGETS:
            raise Missing("not-found", f"unknown machines: {', '.join(unknown)}", hosts=unknown)
        request.targets = [names[n] for n in request.targets if n in names]
        ctx = context(request, cluster, uow.directory.machines(request.targets))
        profiled = [k for k in ("node_profile", "custom_profile", "network") if k in ctx.params]
        if request.type != "node.add" and profiled:
            raise Invalid("invalid-params", f"{request.type} takes no node profile or flat network (node.add "
                          "does)", field=f"params.{profiled[0]}")
        if request.type == "node.add":  # what each node gets, from its profile and the CMDB
            ctx.params = node_specs.resolve(ctx.params, cluster.provider, request.targets, ctx.machines,
                                            *_documents(uow, request.cluster, ctx.params))
            flow = flow_for(request.type, cluster.provider, ctx.params)
        change = plan(request, flow, ctx, actor.subject, {})
        change.endpoints = uow.directory.endpoints(change.blast_hosts)  # the host keys this plan expects
        missing = [h for h in change.targets if h not in change.endpoints]
        if missing and flow.type in SSH_FLOWS:
            raise Conflict("machine-unreachable", f"the inventory has no SSH endpoint for {', '.join(missing)}",
                           hosts=missing)
        # every machine the change may touch, not only its targets (M8): an RKE1 rke up
        # reaches every node of the cluster, an etcd snapshot or restore every etcd node
        locked = sorted(set(change.targets) | set(change.blast_hosts))
        if cmd.dry_run:
            held = uow.locks.machine_holders(locked)
            if held:
                change.warnings.append("locked by open changes: " + ", ".join(f"{h} ({c})" for h, c in held.items()))
            return change
        held = uow.locks.lock_machines(change.id, locked, _emit_recovered(uow))
        if held:
            raise Conflict("machine-locked", "in another open change: " + ", ".join(
                f"{h} ({c})" for h, c in held.items()), locks=held)
        change.record(actor.subject, "create", "planned", type=change.type, targets=change.targets)
        change.emit(ChangeCreated(change_id=change.id, change_type=change.type, cluster=change.cluster,
                                  targets=change.targets, params=change.params, requested_by=actor.subject,
                                  steps=[s.id for s in change.steps],
                                  blast_radius=BlastRadiusOut(hosts=change.blast_hosts,
                                                              components=change.blast_components),
                                  warnings=change.warnings), actor.subject)
        uow.changes.save(change)
        orders = saga.advance(change, flow, ctx, uow.locks.config(_emit_recovered(uow)))
        _commit(uow, change, orders, actor.subject, cluster)
        return change


def _documents(uow: UnitOfWork, cluster: str, params: dict[str, Any]) -> tuple:
    """The node profile a node.add names (none for a custom one) and the cluster's label mapping."""
    name = params.get("node_profile") or node_specs.DEFAULT
    profile = None if params.get("custom_profile") is not None else uow.directory.document(
        cluster, "node-profile", name)
    return profile, uow.directory.document(cluster, "label-mapping", node_specs.DEFAULT)


def decide_approval(cmd: DecideApproval, uow: UnitOfWork) -> Change:
    actor = cmd.actor
    return _operate(uow, cmd.change_id, actor.subject, lambda c, f, x, lk: saga.decide(
        c, f, x, lk, cmd.step_id, actor.subject, actor.has, cmd.decision, cmd.comment))


def retry(cmd: RetryChange, uow: UnitOfWork) -> Change:
    subject = cmd.actor.subject
    return _operate(uow, cmd.change_id, subject, lambda c, f, x, lk: saga.retry(c, f, x, lk, subject, cmd.hosts))


def proceed(cmd: ContinueChange, uow: UnitOfWork) -> Change:
    subject = cmd.actor.subject
    return _operate(uow, cmd.change_id, subject, lambda c, f, x, lk: saga.proceed(c, f, x, lk, subject))


def cancel(cmd: CancelChange, uow: UnitOfWork) -> Change:
    actor = cmd.actor

    def decide(c: Change, f: Flow, x: FlowContext, lk: saga.ConfigLocks) -> list[saga.Order]:
        if actor.subject != c.requested_by and not actor.has("approver"):
            raise Forbidden("forbidden", "only the requester or an approver may cancel")
        return saga.cancel(c, f, x, actor.subject)
    return _operate(uow, cmd.change_id, actor.subject, decide)


def force_cancel(cmd: ForceCancelChange, uow: UnitOfWork) -> Change:
    actor = cmd.actor
    if not actor.has("admin"):
        raise Forbidden("forbidden", "only an admin may force-cancel a change")
    if not cmd.reason.strip():
        raise Invalid("invalid-params", "say why the change is force-cancelled", field="reason")
    return _operate(uow, cmd.change_id, actor.subject,
                    lambda c, f, x, lk: stuck.force_cancel(c, actor.subject, cmd.reason.strip()))


def _every_target(change: Change, parsed: tuple[str, str, str, int], outcome: saga.Outcome,
                  reported: frozenset[str] = frozenset()) -> dict:
    _, step_id, purpose, _ = parsed
    step = next((s for s in change.steps if s.id == step_id), None)
    if step is None:
        return {}
    state = "undo_status" if purpose == "undo" else "status"
    return {h: outcome for h, t in step.targets.items() if getattr(t, state) == "running" and h not in reported}


def take_results(cmd: TakeResults, uow: UnitOfWork) -> None:
    """A job's (or an inventory command's) results; idempotent by message id."""
    parsed = saga.parse_job_id(cmd.job_id)
    if parsed is None:
        return

    def once() -> None:
        with uow:
            if uow.already_processed(cmd.consumer, cmd.message_id):
                return
            change = uow.changes.get(parsed[0])
            reported = cmd.outcomes
            if change is not None and EVERY_TARGET in reported:
                reported = _every_target(change, parsed, reported[EVERY_TARGET], cmd.reported)
            if change is None or not saga.news(change, cmd.job_id, reported):
                uow.commit()  # a duplicate, stale or summary report: recorded as handled, no write
                return
            flow, ctx = _flow_ctx(uow, change)
            orders = saga.on_results(change, flow, ctx, uow.locks.config(_emit_recovered(uow)), cmd.job_id, reported)
            _commit(uow, change, orders, "system", ctx.cluster)
    _retrying(once)


def resume_open(uow: UnitOfWork) -> int:
    """Advance every open change as far as it goes (start-up, and periodically for changes
    waiting on a cluster's config lock). Orders already sent are not sent again: a running
    step is waiting for its job's report, which the bus still holds for us."""
    with uow:
        ids = uow.changes.open_ids()
    for change_id in ids:
        try:  # one broken change must not stop the others
            _operate(uow, change_id, "system", lambda c, f, x, lk: saga.advance(c, f, x, lk), quiet=True)
        except Exception:
            log.exception("resuming change %s failed", change_id)
    return len(ids)
