"""Flat-network ticket handlers for the human-facing steps: plan (with the P7 pool checks
and the P8 membership checks against the cluster's own node list), approve, confirm,
retry, cancel, listing, and failing tickets whose callback never came. Sending to VCalico,
receiving its callback and applying live in ``submission``, ``callbacks`` and ``apply``.

Every transition is checked by :mod:`autorke_netcfg.domain.tickets`, written with its
event (and, where the flow goes on by itself, the next command) in one unit of work.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from autorke_common.catalogue.netcfg import (
    ApplyTicket,
    SubmitTicket,
    TicketApproved,
    TicketConfirmed,
    TicketFailed,
    TicketPlanned,
    TicketRetried,
)
from autorke_common.envelope import utcnow
from autorke_common.errors import Problem, not_found
from autorke_common.outbox import UnitOfWork
from sqlalchemy import select

from autorke_netcfg.adapters.orm import TicketRecord
from autorke_netcfg.domain import pools as rules
from autorke_netcfg.domain import tickets as flow
from autorke_netcfg.domain.tickets import NodeFacts
from autorke_netcfg.service_layer.pools import _call, read_state
from autorke_netcfg.service_layer.ports import Ports, cluster_api, emit, load_cluster, networks

FLAT_POOL_DEFAULTS = {"ipipMode": "Never", "vxlanMode": "Never", "natOutgoing": False}


def new_ticket_id() -> str:
    return f"nt-{uuid.uuid4().hex[:12]}"


def view(t: TicketRecord) -> dict[str, Any]:
    return {"id": t.id, "cluster": t.cluster, "status": t.status, "requested_by": t.requested_by,
            "approved_by": t.approved_by, "confirmed_by": t.confirmed_by, "plan": t.plan,
            "comment": t.comment, "vcalico_ticket_id": t.vcalico_ticket_id,
            "submit_attempts": t.submit_attempts, "callback": t.callback, "applied": t.applied,
            "failure": ({"reason": t.failure_reason, "detail": t.failure_detail,
                         "retryable": flow.can_retry(t.status, t.failure_reason)}
                        if t.status == flow.FAILED else None),
            "correlation_id": t.correlation_id,
            "created_at": t.created_at.isoformat(), "updated_at": t.updated_at.isoformat()}


def lock(uow: UnitOfWork, ticket_id: str) -> TicketRecord:
    """The ticket row, locked for this transaction (PostgreSQL; SQLite serialises writers)."""
    t = uow.session.execute(select(TicketRecord).where(TicketRecord.id == ticket_id)
                            .with_for_update()).scalar_one_or_none()
    if t is None:
        raise not_found("ticket", ticket_id)
    return t


def move(t: TicketRecord, to: str, action: str) -> None:
    t.status = flow.transition(t.id, t.status, to, action)
    t.updated_at = utcnow()


def fail(uow: UnitOfWork, t: TicketRecord, reason: str, detail: str) -> None:
    move(t, flow.FAILED, "failed")
    t.failure_reason, t.failure_detail = reason, detail
    emit(uow, TicketFailed(ticket_id=t.id, cluster=t.cluster, reason=reason, detail=detail,
                           retryable=flow.can_retry(flow.FAILED, reason)),
         aggregate=t.id, correlation_id=t.correlation_id)


def build(ports: Ports, cluster: str, nodes: list[str], route_reflectors: list[str],
          as_numbers: dict[str, int], pool_name: str, pool_spec: dict[str, Any]) -> dict:
    """The plan, checked: P8 membership against the cluster's nodes, P7 for the pool."""
    with ports.db.unit_of_work() as uow:
        record = load_cluster(uow, cluster)
        api, nets, cluster_as = cluster_api(ports, record), networks(record), record.bgp_as
    pool = rules.normalise(pool_name, {**FLAT_POOL_DEFAULTS, **pool_spec})
    facts = {n.name: n for n in (NodeFacts.from_resource(o) for o in _call(api.nodes))}
    plan = flow.build_plan(cluster, cluster_as, nodes, route_reflectors, as_numbers, facts,
                           pool.name, pool.spec())
    existing, blocks, _ = read_state(api)
    rules.check_create(pool, nets, existing, blocks)
    return plan


def plan(ports: Ports, *, cluster: str, nodes: list[str], route_reflectors: list[str],
         as_numbers: dict[str, int], pool_name: str, pool_spec: dict[str, Any],
         requested_by: str, comment: str | None = None, ticket_id: str | None = None,
         correlation_id: str | None = None, message_id: str | None = None) -> dict[str, Any]:
    """Plan a ticket; refused plans raise a :class:`Problem` and store nothing, except when
    the orchestrator asked (``message_id`` set): then a failed ticket answers it."""
    ticket_id = ticket_id or new_ticket_id()
    try:
        built = build(ports, cluster, nodes, route_reflectors, as_numbers, pool_name, pool_spec)
    except Problem as problem:
        if message_id is None:
            raise
        built, refusal = {"cluster": cluster, "nodes": [], "pools": []}, problem
    else:
        refusal = None
    with ports.db.unit_of_work() as uow:
        if message_id and uow.already_processed("netcfg.ticket.plan", message_id):
            return view(lock(uow, ticket_id))
        existing = uow.session.get(TicketRecord, ticket_id)
        if existing is not None:
            return view(existing)
        t = TicketRecord(id=ticket_id, cluster=cluster, status=flow.PLANNED,
                         requested_by=requested_by, plan=built, comment=comment,
                         correlation_id=correlation_id or ticket_id)
        uow.session.add(t)
        if refusal is not None:
            slug = refusal.slug if refusal.slug == "cross-cluster-peering" else "plan-refused"
            fail(uow, t, slug, refusal.detail or refusal.title)
        else:
            emit(uow, TicketPlanned(ticket_id=t.id, cluster=cluster, requested_by=requested_by,
                                    plan=built), aggregate=t.id, correlation_id=t.correlation_id,
                 actor=requested_by)
        uow.commit()
        return view(t)


def approve(ports: Ports, ticket_id: str, actor: str, message_id: str | None = None) -> dict:
    """First human step: the plan is approved (not by its requester); submission follows."""
    with ports.db.unit_of_work() as uow:
        if message_id and uow.already_processed("netcfg.ticket.approve", message_id):
            return view(lock(uow, ticket_id))
        t = lock(uow, ticket_id)
        flow.check_not_requester(t.id, t.requested_by, actor, "approve")
        move(t, flow.APPROVED, "approved")
        t.approved_by = actor
        emit(uow, TicketApproved(ticket_id=t.id, cluster=t.cluster, approved_by=actor),
             aggregate=t.id, correlation_id=t.correlation_id, actor=actor)
        emit(uow, SubmitTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=actor)
        uow.commit()
        return view(t)


def confirm(ports: Ports, ticket_id: str, actor: str, message_id: str | None = None) -> dict:
    """Second human step: the callback's content is confirmed; applying follows."""
    with ports.db.unit_of_work() as uow:
        if message_id and uow.already_processed("netcfg.ticket.confirm", message_id):
            return view(lock(uow, ticket_id))
        t = lock(uow, ticket_id)
        flow.check_can_confirm(t.id, t.status)
        flow.check_not_requester(t.id, t.requested_by, actor, "confirm")
        move(t, flow.CONFIRMED, "confirmed")
        t.confirmed_by = actor
        emit(uow, TicketConfirmed(ticket_id=t.id, cluster=t.cluster, confirmed_by=actor),
             aggregate=t.id, correlation_id=t.correlation_id, actor=actor)
        emit(uow, ApplyTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=actor)
        uow.commit()
        return view(t)


def retry(ports: Ports, ticket_id: str, actor: str) -> dict:
    """A ticket whose submission failed goes back to ``approved`` and is sent again (the
    same idempotency key, so VCalico never opens it twice)."""
    with ports.db.unit_of_work() as uow:
        t = lock(uow, ticket_id)
        if not flow.can_retry(t.status, t.failure_reason):
            raise Problem("not-retryable", "Not retryable", 409,
                          f"ticket {t.id} is {t.status}"
                          + (f" ({t.failure_reason})" if t.failure_reason else "")
                          + "; only a failed submission can be retried", status_now=t.status)
        move(t, flow.APPROVED, "retried")
        t.failure_reason = t.failure_detail = None
        emit(uow, TicketRetried(ticket_id=t.id, cluster=t.cluster, retried_by=actor),
             aggregate=t.id, correlation_id=t.correlation_id, actor=actor)
        emit(uow, SubmitTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=actor)
        uow.commit()
        return view(t)


def cancel(ports: Ports, ticket_id: str, actor: str) -> dict:
    with ports.db.unit_of_work() as uow:
        t = lock(uow, ticket_id)
        move(t, flow.CANCELLED, "cancelled")
        emit(uow, TicketFailed(ticket_id=t.id, cluster=t.cluster, reason="cancelled",
                               detail=f"cancelled by {actor}"),
             aggregate=t.id, correlation_id=t.correlation_id, actor=actor)
        uow.commit()
        return view(t)


def get(ports: Ports, ticket_id: str) -> dict:
    with ports.db.unit_of_work() as uow:
        t = uow.session.get(TicketRecord, ticket_id)
        if t is None:
            raise not_found("ticket", ticket_id)
        return view(t)


def list_tickets(ports: Ports, cluster: str | None = None, status: str | None = None) -> list:
    with ports.db.unit_of_work() as uow:
        q = select(TicketRecord).order_by(TicketRecord.created_at.desc())
        if cluster:
            q = q.where(TicketRecord.cluster == cluster)
        if status:
            q = q.where(TicketRecord.status == status)
        return [view(t) for t in uow.session.execute(q).scalars()]


def expire_callbacks(ports: Ports) -> list[str]:
    """Fail every submitted ticket whose callback is overdue; nothing was applied."""
    deadline = utcnow() - timedelta(seconds=ports.callback_timeout_s)
    expired = []
    with ports.db.unit_of_work() as uow:
        overdue = uow.session.execute(
            select(TicketRecord.id).where(TicketRecord.status == flow.SUBMITTED,
                                          TicketRecord.submitted_at < deadline)).scalars().all()
        for ticket_id in overdue:
            t = lock(uow, ticket_id)
            if t.status == flow.SUBMITTED:
                fail(uow, t, "callback-timeout",
                     f"no VCalico callback for {t.vcalico_ticket_id} within "
                     f"{ports.callback_timeout_s:g} s; nothing was applied")
                expired.append(t.id)
        uow.commit()
    return expired
