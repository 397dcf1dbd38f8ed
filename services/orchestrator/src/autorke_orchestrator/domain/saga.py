"""The saga engine: given a change, its flow and what the orchestrator knows, decide the
next transition and which jobs to send. Pure: the service layer loads the change, calls
one of these functions, stores the change and sends the returned :class:`Order` s through
the outbox in one transaction.

Orders have deterministic ids and pass the blast-radius fence
(:mod:`autorke_orchestrator.domain.orders`), so sending one twice runs nothing twice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from autorke_common.catalogue.orchestrator import (
    ApprovalRecorded,
    ApprovalRequested,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from autorke_common.envelope import utcnow
from autorke_common.errors import Forbidden
from autorke_orchestrator.domain.compensation import advance_compensation, on_undo_results, start_compensation
from autorke_orchestrator.domain.flow import PSEUDO_TARGETS, Flow, FlowContext, StepSpec, Violation
from autorke_orchestrator.domain.model import Approval, Change, IllegalTransition, Step, TargetState
from autorke_orchestrator.domain.orders import (  # noqa: F401 - Order, job_id and parse_job_id: for callers
    SYSTEM,
    Order,
    job_id,
    kept_state,
    lifecycle_marks,
    make_order,
    parse_job_id,
)


@dataclass(frozen=True)
class Outcome:
    """One target's result as reported by the executor or the inventory."""

    status: str  # succeeded failed refused
    error: str | None = None
    error_class: str | None = None
    result: dict[str, Any] | None = None


class ConfigLocks(Protocol):
    """Serializes config-writing steps per cluster (implemented on the database)."""

    def acquire(self, cluster: str, change_id: str, step_id: str) -> bool: ...

    def release(self, cluster: str, change_id: str) -> None: ...


def news(change: Change, order_id: str, outcomes: dict[str, Outcome]) -> bool:
    """Whether a report can move the change: it answers the current attempt (or compensation)
    of a step and names a target still waiting. A job's summary after its targets' own
    reports, a duplicate or a late report of an older attempt is no news: nothing to store."""
    parsed = parse_job_id(order_id)
    if parsed is None or parsed[0] != change.id or change.closed:
        return False
    _, step_id, purpose, attempt = parsed
    step = next((s for s in change.steps if s.id == step_id), None)
    if step is None or purpose == "mark":  # a lifecycle mark's answer moves no change
        return False
    if purpose == "undo":
        return step.undo_status == "running" and step.undo_attempt == attempt and any(
            (t := step.targets.get(h)) is not None and t.undo_status == "running" for h in outcomes)
    return step.status == "running" and step.attempt == attempt and any(
        (t := step.targets.get(h)) is not None and t.status == "running" for h in outcomes)


def _fail_check(change: Change, step: Step, v: Violation) -> None:
    """A check refused the change. The hosts it names failed the check, whatever their job
    reported (a probe that answered is a succeeded job, but a refused host): the per-host
    results say so, with the check's finding as their error."""
    step.status, step.finished_at = "failed", utcnow()
    for h in v.hosts:
        t = step.targets.setdefault(h, TargetState(h, attempt=step.attempt))
        t.status, t.error_class = "failed", v.slug
        t.error = t.error or _finding(v.detail, h)
    change.record(SYSTEM, "check", "failed", step.id, problem=v.slug, detail=v.detail)
    change.emit(StepFailed(change_id=change.id, step_id=step.id, attempt=step.attempt, status="failed",
                           targets={h: "failed" for h in v.hosts}, problem=v.slug))
    change.close("failed", f"check {step.id} refused: {v.detail}", problem=v.slug, detail=v.detail)


def _finding(detail: str, host: str) -> str:
    """The part of a check's detail about ``host`` (``"...: h1: a, b; h2: c"``), else all of it."""
    found = re.search(r"(?<![\w.-])" + re.escape(host) + r": [^;]*", detail)
    return found.group(0) if found else detail


def advance(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks) -> list[Order]:
    """Move the change as far as it can go without waiting; return the jobs to send."""
    if change.closed:
        return []
    if change.status == "compensating":
        return advance_compensation(change, flow, ctx)
    if change.cancel_requested and not any(s.status == "running" for s in change.steps):
        return start_compensation(change, flow, ctx, change.requested_by, "cancel requested")
    if change.status not in ("planned", "running"):
        return []
    if change.status == "planned":
        change.set_status("running", "checks start")
    while True:
        step = change.current_step()
        if step is None:
            if change.cluster:
                locks.release(change.cluster, change.id)
            change.close("succeeded", "every step succeeded")
            return []
        if step.status != "pending":
            return []  # running (a job is out) or awaiting a decision
        spec = flow.spec(step.id)
        hosts = spec.select(ctx, change.active_targets()) if spec.select else change.active_targets()
        if spec.select and not hosts:
            step.status = "skipped"
            change.record(SYSTEM, "step", "skipped", step.id)
            change.emit(StepSkipped(change_id=change.id, step_id=step.id, reason="no target needs it"))
            continue
        if spec.writes_config and change.cluster and not locks.acquire(change.cluster, change.id, step.id):
            change.waiting_for = f"config lock of cluster {change.cluster} (another change writes it)"
            return []
        change.waiting_for = None
        step.started_at = step.started_at or utcnow()
        if spec.kind == "approval":
            if change.policy == "auto" and spec.approver != "admin":
                _decide(change, step, SYSTEM, "approve", "policy auto", automatic=True)
                continue
            step.status = "awaiting_approval"
            nxt = next((s for s in flow.steps[step.position + 1:] if s.kind == "action"), None)
            change.waiting_for = (f"approval of step {step.id} ({step.name}) by a user with role "
                                  f"{spec.approver!r} other than {change.requested_by}")
            change.set_status("awaiting_approval", change.waiting_for)
            change.emit(ApprovalRequested(
                change_id=change.id, step_id=step.id, step_name=step.name, required_role=spec.approver,
                requester=change.requested_by, next_action=nxt.name if nxt else None,
                hosts=list(change.blast_hosts), waiting_for=change.waiting_for))
            return []
        step.attempt += 1
        if spec.guard is not None and spec.job is None:
            change.emit(StepStarted(change_id=change.id, step_id=step.id, kind=step.kind,
                                    attempt=step.attempt, hosts=hosts))
            violation = spec.guard(ctx)
            if violation:
                _fail_check(change, step, violation)
                return []
            _succeed(change, step)
            continue
        job = spec.job(ctx, hosts)
        order = make_order(change, step, job, "run", step.attempt)
        step.status, step.job_id = "running", order.job_id
        step.targets = {h: TargetState(h, "running", step.attempt) for h in job.reported}
        change.record(SYSTEM, "step", "started", step.id, job_id=order.job_id, hosts=list(job.reported))
        change.emit(StepStarted(change_id=change.id, step_id=step.id, kind=step.kind, attempt=step.attempt,
                                job_id=order.job_id, hosts=list(job.reported)))
        return [order, *lifecycle_marks(change, step, spec.marks and spec.marks.during, hosts, step.attempt)]


def _succeed(change: Change, step: Step) -> None:
    step.status, step.finished_at = "succeeded", utcnow()
    change.record(SYSTEM, "step", "succeeded", step.id, attempt=step.attempt)
    change.emit(StepSucceeded(change_id=change.id, step_id=step.id, attempt=step.attempt,
                              hosts=step.succeeded_hosts()))


def on_results(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, order_id: str,
               outcomes: dict[str, Outcome]) -> list[Order]:
    """A job (or one inventory command of a step) reported; advance when the step is complete.
    Stale or duplicate reports (another attempt, a finished step) change nothing."""
    parsed = parse_job_id(order_id)
    if parsed is None or parsed[0] != change.id:
        return []
    _, step_id, purpose, attempt = parsed
    step = change.step(step_id)
    if purpose == "undo":
        return on_undo_results(change, flow, ctx, step, attempt, outcomes)
    if purpose == "mark" or step.status != "running" or step.attempt != attempt:
        return []
    spec = flow.spec(step.id)
    done: list[str] = []
    for host, o in outcomes.items():
        t = step.targets.get(host)
        if t is None or t.status != "running":
            continue
        t.status, t.error, t.error_class = o.status, o.error, o.error_class
        t.result = dict(o.result or {})
        if t.status == "succeeded":
            done.append(host)
    marks = lifecycle_marks(change, step, spec.marks and spec.marks.after, done, attempt)
    if any(t.status == "running" for t in step.targets.values()):
        return marks
    return marks + _step_reported(change, flow, ctx, locks, step, spec, attempt)


def _step_reported(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, step: Step,
                   spec: StepSpec, attempt: int) -> list[Order]:
    """Every target of the step's attempt has reported: the step succeeded or failed."""
    failed = step.failed_hosts()
    if spec.writes_config and change.cluster:
        locks.release(change.cluster, change.id)
    if spec.kind == "check":
        violation = spec.verify(ctx, {h: t.result for h, t in step.targets.items()}) if spec.verify else None
        if violation is None and failed:
            violation = Violation(spec.failure_slug, "; ".join(
                f"{h}: {step.targets[h].error or step.targets[h].status}" for h in failed), tuple(failed))
        if violation:
            _fail_check(change, step, violation)
            return []
        _succeed(change, step)
        return advance(change, flow, ctx, locks)
    if not failed:
        _succeed(change, step)
        return advance(change, flow, ctx, locks)
    status = spec.failure_status or ("partially_failed" if step.succeeded_hosts() else "failed")
    step.status, step.finished_at = status, utcnow()
    errors = {h: step.targets[h].error or step.targets[h].status for h in failed}
    change.record(SYSTEM, "step", status, step.id, attempt=attempt, failed=failed, errors=errors)
    change.emit(StepFailed(change_id=change.id, step_id=step.id, attempt=attempt, status=status,
                           targets={h: t.status for h, t in step.targets.items()}, errors=errors))
    kept = kept_state(change, step, attempt)  # M10: before any retry or compensation runs rke again
    if change.cancel_requested:
        return kept + start_compensation(change, flow, ctx, change.requested_by, "cancel requested")
    change.waiting_for = f"operator decision on step {step.id}: continue, retry or cancel"
    change.set_status(status, f"step {step.id}: {len(failed)} of {len(step.targets)} targets failed")
    return kept


def _decide(change: Change, step: Step, by: str, decision: str, comment: str,
            automatic: bool = False) -> None:
    change.approvals.append(Approval(step.id, decision, by, comment, utcnow(), automatic))
    change.record(by, "approval", decision, step.id, comment=comment)
    change.emit(ApprovalRecorded(change_id=change.id, step_id=step.id, decision=decision, by=by,
                                 comment=comment, automatic=automatic), by)
    if decision == "approve":
        step.status, step.finished_at = "succeeded", utcnow()
    else:
        step.status, step.finished_at = "rejected", utcnow()


def decide(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, step_id: str,
           subject: str, has_role, decision: str, comment: str) -> list[Order]:
    """A human decision on the approval gate the change waits at."""
    step = change.step(step_id)
    if change.status != "awaiting_approval" or step.status != "awaiting_approval":
        raise IllegalTransition(f"change {change.id} is {change.status}; step {step_id} is {step.status}")
    if subject == change.requested_by:
        raise Forbidden("self-approval", f"{subject} requested change {change.id} and cannot approve it")
    spec = flow.spec(step_id)
    if not has_role(spec.approver):
        raise Forbidden("forbidden", f"step {step_id} needs a user with role {spec.approver!r}")
    _decide(change, step, subject, decision, comment)
    change.waiting_for = None
    if decision == "reject":
        return start_compensation(change, flow, ctx, subject, f"step {step_id} rejected by {subject}")
    change.set_status("running", f"step {step_id} approved by {subject}", subject)
    return advance(change, flow, ctx, locks)


def retry(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, actor: str,
          hosts: list[str] | None = None) -> list[Order]:
    """P10: re-run the failed targets of the failed step only (or the named ones of them)."""
    if change.status not in ("partially_failed", "failed") or change.closed:
        raise IllegalTransition(f"change {change.id} is {change.status}: nothing to retry")
    undone = [s.id for s in change.steps if s.undo_status == "failed"]
    if undone:  # the change was being compensated: a forward run would redo what was cancelled
        raise IllegalTransition(f"change {change.id}: the compensation of step {undone[0]} failed; retry runs "
                                "actions forward and would redo what the cancel undoes", "compensation-failed")
    step = next(s for s in change.steps if s.status in ("partially_failed", "failed"))
    failed = step.failed_hosts()
    chosen = hosts or failed
    wrong = [h for h in chosen if h not in failed]
    if wrong:
        raise IllegalTransition(f"not failed targets of step {step.id}: {', '.join(wrong)}", "target-not-failed")
    spec = flow.spec(step.id)
    if spec.retry_from:
        return _retry_from(change, flow, ctx, locks, actor, step, spec.retry_from)
    job = spec.job(ctx, chosen)  # a step's job factory takes the hosts it runs on
    step.attempt += 1
    order = make_order(change, step, job, "run", step.attempt)
    step.status, step.job_id, step.finished_at = "running", order.job_id, None
    for h in job.reported:
        step.targets[h] = TargetState(h, "running", step.attempt)
    change.waiting_for = None
    change.record(actor, "retry", "started", step.id, job_id=order.job_id, hosts=list(job.reported))
    change.set_status("running", f"retry of step {step.id} on {', '.join(job.reported)}", actor)
    change.emit(StepStarted(change_id=change.id, step_id=step.id, kind=step.kind, attempt=step.attempt,
                            job_id=order.job_id, hosts=list(job.reported)), actor)
    return [order]


def _retry_from(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, actor: str, failed: Step,
                first: str) -> list[Order]:
    """Run the steps from ``first`` up to the failed one again, gates included (a ticket
    VCalico refused is planned anew, and checked by a human again)."""
    start = change.step(first).position
    for step in change.steps[start:failed.position + 1]:
        step.status, step.targets, step.job_id, step.finished_at = "pending", {}, None, None
    change.waiting_for = None
    change.record(actor, "retry", "started", failed.id, from_step=first)
    change.set_status("running", f"retry of step {failed.id} from step {first}", actor)
    return advance(change, flow, ctx, locks)


def proceed(change: Change, flow: Flow, ctx: FlowContext, locks: ConfigLocks, actor: str) -> list[Order]:
    """Continue with the targets that succeeded; the failed ones are dropped from the change."""
    if change.status != "partially_failed":
        raise IllegalTransition(f"change {change.id} is {change.status}: only a partially failed "
                                "change can continue")
    step = next(s for s in change.steps if s.status == "partially_failed")
    dropped = step.failed_hosts()
    change.dropped.extend(h for h in dropped if h not in change.dropped and h not in PSEUDO_TARGETS)
    for h in dropped:
        step.targets[h].status = "dropped"
    step.status = "succeeded"
    change.record(actor, "continue", "dropped", step.id, hosts=dropped)
    group = flow.spec(step.id).group
    for later in change.steps[step.position + 1:]:
        if group and flow.spec(later.id).group == group and later.status == "pending":
            later.status = "skipped"
            change.emit(StepSkipped(change_id=change.id, step_id=later.id,
                                    reason=f"continued without the rest of {group}"), actor)
    change.set_status("running", f"continue without {', '.join(dropped)}", actor)
    return advance(change, flow, ctx, locks)


def cancel(change: Change, flow: Flow, ctx: FlowContext, actor: str) -> list[Order]:
    if change.closed or change.status == "compensating":
        raise IllegalTransition(f"change {change.id} is {change.status}: it cannot be cancelled")
    if any(s.status == "running" for s in change.steps):
        change.cancel_requested = True  # compensation starts when the running job reports
        change.record(actor, "cancel", "requested")
        return []
    return start_compensation(change, flow, ctx, actor, f"cancelled by {actor}")
