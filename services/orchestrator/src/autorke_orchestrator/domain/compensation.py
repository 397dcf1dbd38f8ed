"""Compensation: a cancelled (or rejected) change undoes its actions one step at a time, in
reverse order, each with its flow's compensation jobs in order; a step whose compensation
finds nothing to undo is passed over. Part of the saga engine (:mod:`.saga`), pure like it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from autorke_common.catalogue.orchestrator import StepCompensated
from autorke_orchestrator.domain.flow import Flow, FlowContext
from autorke_orchestrator.domain.model import Change, Step, TargetState
from autorke_orchestrator.domain.orders import SYSTEM, Order, job_id, lifecycle_marks, make_order

if TYPE_CHECKING:
    from autorke_orchestrator.domain.saga import Outcome


def start_compensation(change: Change, flow: Flow, ctx: FlowContext, actor: str, reason: str) -> list[Order]:
    change.cancel_requested = False
    change.waiting_for = None
    change.set_status("compensating", reason, actor)
    for s in change.steps:
        if s.kind == "action" and s.status in ("succeeded", "partially_failed", "failed") \
                and flow.spec(s.id).undo is not None and s.undo_status is None:
            s.undo_status = "pending"
        elif s.status in ("pending", "awaiting_approval"):  # a rejected gate was marked so by the decision
            s.status = "cancelled"
    return advance_compensation(change, flow, ctx)


def advance_compensation(change: Change, flow: Flow, ctx: FlowContext) -> list[Order]:
    """Compensations run one step at a time, in reverse order of the steps."""
    for step in reversed(change.steps):
        if step.undo_status == "running":
            return []
        if step.undo_status != "pending":
            continue
        step.undo_status = "running"
        step.status = "compensating"
        order = send_undo(change, flow, ctx, step)
        if order is not None:
            return [order]
        compensated(change, step, None)  # nothing of it to undo anywhere
    change.close("cancelled", "every compensation ran")
    return []


def send_undo(change: Change, flow: Flow, ctx: FlowContext, step: Step) -> Order | None:
    """The step's next compensation job (its ``undo_attempt``-th, counted from 1). A
    compensation whose job has no target (the flow found nothing of the step to undo, e.g.
    no node where it made a file) is passed over; None: no compensation job is left."""
    hosts = [h for h, t in step.targets.items() if t.status in ("succeeded", "failed", "dropped")]
    compensations = flow.spec(step.id).compensations
    while step.undo_attempt < len(compensations):
        factory = compensations[step.undo_attempt]
        step.undo_attempt += 1
        job = factory(ctx, hosts)
        if job.reported:
            break
        change.record(SYSTEM, "compensate", "skipped", step.id, attempt=step.undo_attempt,
                      reason="nothing to undo")
    else:
        return None
    order = make_order(change, step, job, "undo", step.undo_attempt)
    for h in job.reported:
        step.targets.setdefault(h, TargetState(h, "succeeded")).undo_status = "running"
    change.record(SYSTEM, "compensate", "started", step.id, job_id=order.job_id, hosts=list(job.reported))
    return order


def compensated(change: Change, step: Step, undo_job: str | None, ok: bool = True,
                 recorded: bool = False) -> None:
    """The step's compensation ended (``undo_job``: its last job, its end ``recorded`` in the
    history already or not; None: it needed no job)."""
    step.undo_status = "succeeded" if ok else "failed"
    step.status = "compensated" if ok else "failed"
    if not recorded:
        change.record(SYSTEM, "compensate", step.undo_status, step.id, job_id=undo_job)
    change.emit(StepCompensated(change_id=change.id, step_id=step.id, ok=ok,
                                hosts=[h for h, t in step.targets.items() if t.undo_status] if undo_job
                                else [], job_id=undo_job))


def on_undo_results(change: Change, flow: Flow, ctx: FlowContext, step: Step, attempt: int,
                     outcomes: dict[str, Outcome]) -> list[Order]:
    if step.undo_status != "running" or step.undo_attempt != attempt:
        return []
    for host, o in outcomes.items():
        t = step.targets.get(host)
        if t is not None and t.undo_status == "running":
            t.undo_status = o.status
    if any(t.undo_status == "running" for t in step.targets.values()):
        return []
    ok = all(t.undo_status in (None, "succeeded") for t in step.targets.values())
    undo_job = job_id(change.id, step.id, attempt, True)
    recorded = False
    if ok and step.undo_attempt < len(flow.spec(step.id).compensations):
        change.record(SYSTEM, "compensate", "succeeded", step.id, job_id=undo_job)
        recorded = True
        order = send_undo(change, flow, ctx, step)
        if order is not None:
            return [order]
    compensated(change, step, undo_job, ok, recorded)
    if not ok:
        change.waiting_for = f"operator: compensation of step {step.id} failed"
        change.set_status("failed", f"compensation of step {step.id} failed")
        return []
    marks = flow.spec(step.id).marks
    undone = [h for h, t in step.targets.items() if t.undo_status == "succeeded"]
    return (lifecycle_marks(change, step, marks and marks.undone, undone, attempt, undone=True)
            + advance_compensation(change, flow, ctx))
