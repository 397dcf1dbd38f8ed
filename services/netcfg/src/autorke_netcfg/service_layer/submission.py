"""Sending an approved ticket to VCalico. The HTTP call (with its retries) happens outside
any transaction; the outcome is recorded afterwards, only if the ticket is still
``approved`` — so a redelivered command, or two replicas racing, have one effect, and the
idempotency key (the ticket id) keeps VCalico from opening a second ticket."""
from __future__ import annotations

import logging

from autorke_common.catalogue.netcfg import SubmitTicket, TicketSubmitted
from autorke_common.envelope import Envelope, utcnow
from autorke_netcfg.adapters.orm import TicketRow
from autorke_netcfg.adapters.vcalico import VCalicoRefused, VCalicoUnavailable
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.service_layer.callbacks import take_up_held
from autorke_netcfg.service_layer.ports import Ports, emit
from autorke_netcfg.service_layer.tickets import fail, lock, move

log = logging.getLogger(__name__)


def ticket_request(t: TicketRow) -> dict:
    """The body VCalico expects (``POST /api/v1/tickets``)."""
    plan = t.plan
    return {"cluster": t.cluster,
            "nodes": [{"name": n["name"], "ip": n["ip"], "rack": n["rack"]} for n in plan["nodes"]],
            "route_reflectors": plan.get("route_reflectors", []),
            "as_numbers": plan.get("as_numbers", {}),
            "pools": [{"cidr": p["cidr"], "block_size": p["blockSize"]} for p in plan["pools"]],
            "requested_by": t.requested_by, "comment": t.comment}


def submit(cmd: SubmitTicket, ports: Ports, envelope: Envelope | None = None) -> str | None:
    """Submit if the ticket is approved; the resulting status (None: unknown ticket). A
    redelivery needs no inbox mark (``envelope`` is not used): only an approved ticket is
    sent, and only once its outcome is recorded does it move on."""
    ticket_id = cmd.ticket_id
    with ports.uow() as uow:
        t = uow.tickets.get(ticket_id)
        if t is None:
            log.warning("submit: ticket %s unknown here; ignored", ticket_id)
            return None
        if t.status != ticket_rules.APPROVED:
            return t.status
        body = ticket_request(t)
    if ports.vcalico is None:
        outcome: tuple[str, str | None, int] = ("vcalico-unavailable", "no VCalico URL configured", 0)
    else:
        try:
            result = ports.vcalico.submit(body, idempotency_key=ticket_id)
            outcome = ("ok", result.vcalico_ticket_id, result.attempts)
        except VCalicoUnavailable as exc:
            outcome = ("vcalico-unavailable", str(exc), exc.attempts)
        except VCalicoRefused as exc:
            outcome = ("vcalico-refused", str(exc), exc.attempts)
    kind, value, attempts = outcome
    with ports.uow() as uow:
        if kind == "ok" and value:  # first, as a callback does: the same lock order
            uow.callbacks.serialize(value)
        t = lock(uow, ticket_id)
        if t.status != ticket_rules.APPROVED:
            return t.status
        t.submit_attempts += attempts
        if kind == "ok":
            move(t, ticket_rules.SUBMITTED, "submitted")
            t.vcalico_ticket_id, t.submitted_at = value, utcnow()
            emit(uow, TicketSubmitted(ticket_id=t.id, cluster=t.cluster, vcalico_ticket_id=value,
                                      attempts=attempts), aggregate=t.id,
                 correlation_id=t.correlation_id)
            take_up_held(uow, t)
        else:
            fail(uow, t, kind, value or kind)
        uow.commit()
        return t.status
