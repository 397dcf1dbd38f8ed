"""The orchestrator's use cases, one unit of work each: create (plan) a change, decide an
approval, retry, continue, cancel, take a job's results, resume open changes. Each loads
the change, lets the saga decide, saves the change, and writes the orders and events to
the outbox in the same transaction — so a crash anywhere leaves either all of it or none."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from autorke_common.catalogue.orchestrator import BlastRadiusOut, ChangeCreated
from autorke_common.envelope import Envelope
from autorke_common.errors import Problem, TemporaryError
from autorke_common.outbox import Database, UnitOfWork

from autorke_orchestrator.adapters import directory, locks, repository
from autorke_orchestrator.domain import saga
from autorke_orchestrator.domain.flow import ClusterView, Flow, FlowContext
from autorke_orchestrator.domain.flows import flow_for
from autorke_orchestrator.domain.model import Change, IllegalTransition
from autorke_orchestrator.domain.params import InvalidParams
from autorke_orchestrator.domain.planning import ChangeRequest, Refused, context, plan, resolve_flow
from autorke_orchestrator.service_layer.dispatch import SOURCE, send

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    subject: str
    roles: frozenset[str] = frozenset()

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


def problem(v: Any) -> Problem:
    slug, detail, status = v.slug, v.detail, v.status
    ext = {"hosts": list(v.hosts)} if getattr(v, "hosts", None) else {}
    return Problem(slug, slug.replace("-", " ").capitalize(), status, detail, **ext)


def _flow_ctx(uow: UnitOfWork, change: Change) -> tuple[Flow, FlowContext]:
    """What a step sees: the change's own machines and the cluster (its members load only
    if the flow reads them), so a step costs the same on a cluster of 10 or 1,000 nodes."""
    cluster = directory.cluster(uow.session, change.cluster)
    flow = flow_for(change.type, cluster.provider if cluster else None)
    ctx = FlowContext(change.type, cluster, change.active_targets(), change.params,
                      directory.machines(uow.session, change.targets), StepResults(change))
    return flow, ctx


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
        locks.release_machines(uow.session, change.id)
        if change.cluster:
            locks.ClusterLocks(uow.session, lambda e: None).release(change.cluster, change.id)
    for message, who in change.events:
        uow.emit(Envelope.of(message, source=SOURCE, correlation_id=change.id, actor=who), aggregate=change.id)
    change.events.clear()
    repository.save(uow.session, change)
    uow.commit()  # wakes the outbox relay at once (Database.notify_outbox_written)


def _emit_recovered(uow: UnitOfWork) -> Callable:
    def emit(event: Any) -> None:
        uow.emit(Envelope.of(event, source=SOURCE, correlation_id=event.change_id, actor="system"))
    return emit


def _retrying(fn: Callable[[], Any], attempts: int = 5) -> Any:
    for i in range(attempts):
        try:
            return fn()
        except repository.StaleChange:
            if i == attempts - 1:
                raise TemporaryError("change modified concurrently", 0.2) from None
    return None


def _operate(db: Database, change_id: str, actor: str,
             decide: Callable[[Change, Flow, FlowContext, Any], list[saga.Order]], quiet: bool = False) -> Change:
    def once() -> Change:
        with db.unit_of_work() as uow:
            change = repository.load(uow.session, change_id)
            if change is None:
                raise Problem("not-found", "Change not found", 404, f"change {change_id!r} does not exist")
            flow, ctx = _flow_ctx(uow, change)
            waiting = change.waiting_for
            try:
                orders = decide(change, flow, ctx, locks.ClusterLocks(uow.session, _emit_recovered(uow)))
            except IllegalTransition as exc:
                raise Problem(exc.slug, exc.slug.replace("-", " ").capitalize(), exc.status, str(exc)) from None
            if quiet and not orders and not change.events and change.waiting_for == waiting:
                return change  # nothing moved: no write
            _commit(uow, change, orders, actor, ctx.cluster)
            return change
    return _retrying(once)


# -- use cases ---------------------------------------------------------------------------
def create_change(db: Database, request: ChangeRequest, actor: Actor, dry_run: bool) -> Change:
    """Validate and plan; unless ``dry_run``, store it, lock its machines and start it."""
    with db.unit_of_work() as uow:
        s = uow.session
        cluster = directory.cluster(s, request.cluster)
        try:
            flow = resolve_flow(request, cluster)
            names, unknown = directory.resolve(s, request.targets)
            if unknown and request.type not in ("etcd.snapshot", "etcd.restore"):
                raise Problem("not-found", "Machine not found", 404, f"unknown machines: {', '.join(unknown)}",
                              hosts=unknown)
            request.targets = [names[n] for n in request.targets if n in names]
            ctx = context(request, cluster, directory.machines(s, request.targets))
            change = plan(request, flow, ctx, actor.subject, {})
        except Refused as exc:
            raise problem(exc.violation) from None
        except InvalidParams as exc:
            raise Problem(exc.slug, "Invalid params", 422, str(exc), field=exc.field, errors=exc.errors) from None
        change.endpoints = directory.endpoints(s, change.blast_hosts)  # the host keys this plan expects
        missing = [h for h in change.targets if h not in change.endpoints]
        if missing and flow.type in ("machine.init", "machine.cleanup", "node.add", "node.add_core"):
            raise Problem("machine-unreachable", "No SSH endpoint", 409,
                          f"the inventory has no SSH endpoint for {', '.join(missing)}", hosts=missing)
        if dry_run:
            held = locks.machine_holders(s, change.targets)
            if held:
                change.warnings.append("locked by open changes: " + ", ".join(f"{h} ({c})" for h, c in held.items()))
            return change
        held = locks.lock_machines(s, change.id, change.targets, _emit_recovered(uow))
        if held:
            raise Problem("machine-locked", "Machine locked", 409, "in another open change: " + ", ".join(
                f"{h} ({c})" for h, c in held.items()), locks=held)
        change.record(actor.subject, "create", "planned", type=change.type, targets=change.targets)
        change.emit(ChangeCreated(change_id=change.id, change_type=change.type, cluster=change.cluster,
                                  targets=change.targets, params=change.params, requested_by=actor.subject,
                                  steps=[s.id for s in change.steps],
                                  blast_radius=BlastRadiusOut(hosts=change.blast_hosts,
                                                              components=change.blast_components),
                                  warnings=change.warnings), actor.subject)
        repository.save(s, change)
        orders = saga.advance(change, flow, ctx, locks.ClusterLocks(s, _emit_recovered(uow)))
        _commit(uow, change, orders, actor.subject, cluster)
        return change


def decide_approval(db: Database, change_id: str, step_id: str, decision: str, comment: str,
                    actor: Actor) -> Change:
    return _operate(db, change_id, actor.subject, lambda c, f, x, lk: saga.decide(
        c, f, x, lk, step_id, actor.subject, actor.has, decision, comment))


def retry(db: Database, change_id: str, hosts: list[str] | None, actor: Actor) -> Change:
    return _operate(db, change_id, actor.subject, lambda c, f, x, lk: saga.retry(c, f, x, lk, actor.subject, hosts))


def proceed(db: Database, change_id: str, actor: Actor) -> Change:
    return _operate(db, change_id, actor.subject, lambda c, f, x, lk: saga.proceed(c, f, x, lk, actor.subject))


def cancel(db: Database, change_id: str, actor: Actor) -> Change:
    def decide(c: Change, f: Flow, x: FlowContext, lk: Any) -> list[saga.Order]:
        if actor.subject != c.requested_by and not actor.has("approver"):
            raise IllegalTransition("only the requester or an approver may cancel", "forbidden", 403)
        return saga.cancel(c, f, x, actor.subject)
    return _operate(db, change_id, actor.subject, decide)


#: A job that could not run at all (the executor refused it whole) reports no target:
#: its error stands for every target still waiting on the step.
EVERY_TARGET = "*"


def _every_target(change: Change, parsed: tuple[str, str, str, int], outcome: saga.Outcome) -> dict:
    _, step_id, purpose, _ = parsed
    step = next((s for s in change.steps if s.id == step_id), None)
    if step is None:
        return {}
    state = "undo_status" if purpose == "undo" else "status"
    return {h: outcome for h, t in step.targets.items() if getattr(t, state) == "running"}


def take_results(db: Database, consumer: str, message_id: str, order_id: str,
                 outcomes: dict[str, saga.Outcome]) -> None:
    """A job's (or an inventory command's) results; idempotent by message id."""
    parsed = saga.parse_job_id(order_id)
    if parsed is None:
        return

    def once() -> None:
        with db.unit_of_work() as uow:
            if uow.already_processed(consumer, message_id):
                return
            change = repository.load(uow.session, parsed[0])
            reported = outcomes
            if change is not None and EVERY_TARGET in outcomes:
                reported = _every_target(change, parsed, outcomes[EVERY_TARGET])
            if change is None or not saga.news(change, order_id, reported):
                uow.commit()  # a duplicate, stale or summary report: recorded as handled, no write
                return
            flow, ctx = _flow_ctx(uow, change)
            orders = saga.on_results(change, flow, ctx, locks.ClusterLocks(uow.session, _emit_recovered(uow)),
                                     order_id, reported)
            _commit(uow, change, orders, "system", ctx.cluster)
    _retrying(once)


def resume_open(db: Database) -> int:
    """Advance every open change as far as it goes (start-up, and periodically for changes
    waiting on a cluster's config lock). Orders already sent are not sent again: a running
    step is waiting for its job's report, which the bus still holds for us."""
    with db.unit_of_work() as uow:
        ids = repository.open_change_ids(uow.session)
    for change_id in ids:
        try:
            _operate(db, change_id, "system", lambda c, f, x, lk: saga.advance(c, f, x, lk), quiet=True)
        except Exception:  # noqa: BLE001 - one broken change must not stop the others
            log.exception("resuming change %s failed", change_id)
    return len(ids)
