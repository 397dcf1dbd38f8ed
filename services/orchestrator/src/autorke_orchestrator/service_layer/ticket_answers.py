"""netcfg's ticket events as the results of a node.add's flat-network steps
(:mod:`autorke_orchestrator.domain.flows.flat_network`). A ticket's events carry its id and,
as correlation id, the change that asked for it; which step an event answers is the step
of that change now waiting on the ticket:

- ``planned`` answers ``net_plan`` (the plan, for the human check);
- ``callback_received`` with an accepted answer answers ``net_submit`` (the callback, for
  the human confirmation); a refused answer is followed by ``failed``;
- ``applied`` answers ``net_apply``;
- ``failed`` fails whichever of the three waits (its reason the error class, so the change
  says "vcalico-rejected" or "callback-timeout");
- ``reverted`` answers the compensation of ``net_plan``.

Events of tickets no change of ours waits on (a ticket opened on netcfg's REST API, an
answer for an older attempt) change nothing. Idempotent by message id (``take_results``)."""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue.netcfg import (
    TicketApplied,
    TicketCallbackReceived,
    TicketFailed,
    TicketPlanned,
    TicketReverted,
)
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.flows.flat_network import TICKET
from autorke_orchestrator.domain.orders import job_id
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.commands import TakeResults
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

CONSUMER = "orchestrator-tickets"
#: the steps each event may answer
ANSWERS = {TicketPlanned.TYPE: ("net_plan",), TicketCallbackReceived.TYPE: ("net_submit",),
           TicketApplied.TYPE: ("net_apply",), TicketFailed.TYPE: ("net_plan", "net_submit", "net_apply")}


def outcome(msg: Any) -> Outcome | None:
    if isinstance(msg, TicketFailed):
        return Outcome("failed", f"{msg.reason}: {msg.detail}", msg.reason,
                       {"ticket_id": msg.ticket_id, "reason": msg.reason, "retryable": msg.retryable})
    if isinstance(msg, TicketPlanned):
        return Outcome("succeeded", result={"ticket_id": msg.ticket_id, "plan": msg.plan})
    if isinstance(msg, TicketCallbackReceived):
        if not msg.accepted:
            return None  # netcfg's failed event follows with the reason
        return Outcome("succeeded", result={"ticket_id": msg.ticket_id, "event_id": msg.event_id,
                                            "result": msg.result, "answer": msg.answer})
    if isinstance(msg, TicketApplied):
        return Outcome("succeeded", result={"ticket_id": msg.ticket_id, "pool": msg.pool, "nodes": msg.nodes,
                                            "route_reflectors": msg.route_reflectors})
    if isinstance(msg, TicketReverted):
        return Outcome("succeeded", result={"ticket_id": msg.ticket_id, "removed": msg.removed})
    return None


def _waiting(uow: UnitOfWork, change_id: str, event_type: str, ticket_id: str) -> str | None:
    """The job id of the change's step (or compensation) now waiting on ``ticket_id``."""
    with uow:
        change = uow.changes.get(change_id)
        if change is None or change.closed:
            return None
        if event_type == TicketReverted.TYPE:
            step = next((s for s in change.steps if s.id == "net_plan"), None)
            if step is not None and step.undo_status == "running":
                return job_id(change.id, step.id, step.undo_attempt, undo=True)
            return None
        for step in change.steps:
            if step.id in ANSWERS.get(event_type, ()) and step.status == "running":
                plan = next((s for s in change.steps if s.id == "net_plan"), None)
                planned = plan.targets.get(TICKET) if plan else None
                ticket = ((planned.result or {}).get("ticket_id") if planned and planned.result else None)
                if step.id == "net_plan" or ticket == ticket_id:
                    return step.job_id
    return None


def handle(env: Envelope, uow: UnitOfWork) -> None:
    if env.type not in (*ANSWERS, TicketReverted.TYPE) or not env.correlation_id:
        return
    msg = env.parsed()
    answer = outcome(msg)
    if answer is None:
        return
    waiting = _waiting(uow, env.correlation_id, env.type, msg.ticket_id)
    if waiting is None:
        return
    if waiting.split(":")[1] == "net_plan" and env.type != TicketReverted.TYPE and not waiting.endswith(
            f":{msg.ticket_id.rpartition('-')[2]}"):
        return  # an answer about the ticket of an earlier attempt
    handlers.take_results(TakeResults(CONSUMER, env.id, waiting, {TICKET: answer}), uow)
