"""VCalico's callback, received on the webhook (P9). The signature is checked over the raw
bytes before anything is parsed; a bad or stale signature is a 401 that changes nothing.
Each callback ``event_id`` has one effect however often it is delivered. An approved
answer is checked against the plan (P8) and the cluster's host networks (its ToR peers)
and then waits for a human confirmation: nothing is applied here."""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from autorke_common.catalogue.netcfg import TicketCallbackReceived
from autorke_common.errors import DomainError, Invalid, Problem
from autorke_netcfg.adapters.orm import CallbackRow, TicketRow
from autorke_netcfg.adapters.unit_of_work import AlreadyRecorded
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.domain.commands import ReceiveCallback
from autorke_netcfg.domain.signature import SignatureRejected, verify
from autorke_netcfg.service_layer.ports import Ports, emit
from autorke_netcfg.service_layer.tickets import fail, lock, move
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
FAILED_RESULTS = {"rejected": "vcalico-rejected", "failed": "vcalico-failed"}


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("event_id", "ticket_id", "result")):
            raise ValueError("event_id, ticket_id and result are required")
        return data
    except ValueError as exc:
        raise Invalid("invalid-callback", f"unreadable callback: {exc}") from None


def receive(cmd: ReceiveCallback, ports: Ports) -> dict[str, Any]:
    secret = ports.callback_secret()
    if not secret:
        raise Problem("webhook-not-configured", "Webhook not configured", 503,
                      "no VCalico secret is configured; callbacks cannot be verified")
    try:
        verify(secret, cmd.headers, cmd.body, time.time() if cmd.now is None else cmd.now,
               ports.signature_tolerance_s)
    except SignatureRejected as exc:
        log.warning("VCalico callback refused: %s", exc)
        raise Problem("bad-signature", "Bad signature", 401, f"callback refused: {exc}") from None
    data = _parse(cmd.body)
    try:
        return _record(ports, data)
    except AlreadyRecorded:   # the same event recorded concurrently: one effect
        return {"status": "duplicate", "event_id": data["event_id"]}


def _record(ports: Ports, data: dict[str, Any]) -> dict[str, Any]:
    event_id = data["event_id"]
    with ports.uow() as uow:
        # a callback that beats the submission's record is held for the submission to take
        # up: the two must not both look before the other wrote (both would miss)
        uow.callbacks.serialize(data["ticket_id"])
        if uow.callbacks.get(event_id) is not None:
            return {"status": "duplicate", "event_id": event_id}
        ticket_id = uow.tickets.id_for_vcalico(data["ticket_id"])
        if ticket_id is None:
            # VCalico answered before the submission was recorded here: hold the verified
            # callback under VCalico's id; recording the submission takes it up.
            uow.callbacks.add(CallbackRow(event_id=event_id, ticket_id=data["ticket_id"],
                                          result=data["result"], outcome="held", body=data))
            uow.commit()
            return {"status": "held", "event_id": event_id}
        t = lock(uow, ticket_id)
        outcome = apply_callback(uow, t, data)
        uow.callbacks.add(CallbackRow(event_id=event_id, ticket_id=t.id, result=data["result"],
                                      outcome=outcome, body=data))
        uow.commit()
        return {"status": outcome, "event_id": event_id, "ticket": t.id, "ticket_status": t.status}


def apply_callback(uow: UnitOfWork, t: TicketRow, data: dict[str, Any]) -> str:
    """Record a callback for a submitted ticket: its verdict is decided first, so the
    ``callback_received`` event says whether the answer was accepted; a refused one is
    followed by ``failed``."""
    if t.status != ticket_rules.SUBMITTED:
        log.warning("callback %s for ticket %s (%s) ignored", data["event_id"], t.id, t.status)
        return "ignored"
    result, answer = data["result"], data.get("answer")
    refusal = _verdict(uow, t, data)
    move(t, ticket_rules.CALLBACK_RECEIVED, "answered")
    t.callback = data
    emit(uow, TicketCallbackReceived(ticket_id=t.id, cluster=t.cluster, event_id=data["event_id"],
                                     result=result, answer=answer, accepted=refusal is None),
         aggregate=t.id, correlation_id=t.correlation_id)
    if refusal is not None:
        fail(uow, t, *refusal)
        return "failed"
    return "accepted"


def _verdict(uow: UnitOfWork, t: TicketRow, data: dict[str, Any]) -> tuple[str, str] | None:
    """None when the answer is approved and passes the checks against the plan (P8) and
    the cluster's host networks; otherwise the ticket's failure (reason, detail)."""
    result, answer = data["result"], data.get("answer")
    if result in FAILED_RESULTS:
        return FAILED_RESULTS[result], data.get("reason") or f"VCalico answered {result}"
    if result != "approved":
        return "invalid-callback", f"unknown callback result {result!r}"
    cluster = uow.clusters.get(t.cluster)
    host_networks = tuple(cluster.host_networks or ()) if cluster is not None else ()
    try:
        ticket_rules.check_answer(t.id, t.plan, answer, host_networks)
    except DomainError as refusal:
        return refusal.slug, refusal.detail
    return None


def take_up_held(uow: UnitOfWork, t: TicketRow) -> None:
    """A callback held because it beat the submission record: apply the first one now."""
    for row in uow.callbacks.held(t.vcalico_ticket_id):
        row.outcome = apply_callback(uow, t, row.body)
        row.ticket_id = t.id
