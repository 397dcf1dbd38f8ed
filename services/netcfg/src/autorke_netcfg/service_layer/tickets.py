"""Flat-network ticket handlers for the human-facing steps: plan (with the P7 pool checks
and the P8 membership checks against the cluster's own node list), approve, confirm,
retry, cancel, and failing tickets whose callback never came. Sending to VCalico,
receiving its callback and applying live in ``submission``, ``callbacks`` and ``apply``.

Every transition is checked by :mod:`autorke_netcfg.domain.ticket_rules`, written with its
event (and, where the flow goes on by itself, the next command) in one unit of work.
Plan, approve and confirm arrive from the REST API or on the bus (``envelope`` set): a
redelivered command then has one effect, and a refused plan the orchestrator asked for is
answered with a failed ticket instead of a refusal.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from autorke_common.catalogue.netcfg import (
    ApplyTicket,
    ApproveTicket,
    ConfirmTicket,
    PlanTicket,
    SubmitTicket,
    TicketApproved,
    TicketConfirmed,
    TicketFailed,
    TicketPlanned,
    TicketRetried,
)
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import DomainError, Problem, not_found
from autorke_netcfg.adapters.orm import TicketRow
from autorke_netcfg.domain import pool_rules, ticket_rules
from autorke_netcfg.domain.commands import CancelTicket, RetryTicket
from autorke_netcfg.domain.ticket_rules import NodeFacts
from autorke_netcfg.service_layer.cluster_state import call, cluster_api, load_cluster, networks, read_state
from autorke_netcfg.service_layer.ports import Ports, emit
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork
from autorke_netcfg.service_layer.views import ticket_view

FLAT_POOL_DEFAULTS = {"ipipMode": "Never", "vxlanMode": "Never", "natOutgoing": False}


def new_ticket_id() -> str:
    return f"nt-{uuid.uuid4().hex[:12]}"


def lock(uow: UnitOfWork, ticket_id: str) -> TicketRow:
    """The ticket, locked for this transaction."""
    t = uow.tickets.locked(ticket_id)
    if t is None:
        raise not_found("ticket", ticket_id)
    return t


def move(t: TicketRow, to: str, action: str) -> None:
    t.status = ticket_rules.transition(t.id, t.status, to, action)
    t.updated_at = utcnow()


def fail(uow: UnitOfWork, t: TicketRow, reason: str, detail: str) -> None:
    move(t, ticket_rules.FAILED, "failed")
    t.failure_reason, t.failure_detail = reason, detail
    emit(uow, TicketFailed(ticket_id=t.id, cluster=t.cluster, reason=reason, detail=detail,
                           retryable=ticket_rules.can_retry(ticket_rules.FAILED, reason)),
         aggregate=t.id, correlation_id=t.correlation_id)


def refusal_reason(refusal: Problem | DomainError, default: str) -> tuple[str, str]:
    """A refusal as the failure of a ticket: cross-cluster peering keeps its slug (the
    orchestrator acts on it), anything else is ``default``; and why."""
    reason = refusal.slug if refusal.slug == "cross-cluster-peering" else default
    detail = refusal.detail or (refusal.title if isinstance(refusal, Problem) else str(refusal))
    return reason, detail


def build(ports: Ports, cmd: PlanTicket) -> dict:
    """The plan, checked: P8 membership against the cluster's nodes, P7 for the pool."""
    with ports.uow() as uow:
        row = load_cluster(uow, cmd.cluster)
        api, nets, cluster_as = cluster_api(ports, row), networks(row), row.bgp_as
    pool = pool_rules.normalise(cmd.pool_name, {**FLAT_POOL_DEFAULTS, **cmd.pool.model_dump(exclude_none=True)})
    node_objects = call(api.nodes)
    facts = {n.name: n for n in (NodeFacts.from_resource(o) for o in node_objects)}
    plan = ticket_rules.build_plan(cmd.cluster, cluster_as, cmd.nodes, cmd.route_reflectors, cmd.as_numbers,
                                   facts, pool.name, pool.spec(), cmd.rack_label)
    existing, blocks, _ = read_state(api)
    pool_rules.check_create(pool, nets.with_nodes(node_objects), existing, blocks)
    return plan


def plan(cmd: PlanTicket, ports: Ports, envelope: Envelope | None = None) -> dict[str, Any]:
    """Plan a ticket; a refused plan stores nothing and raises, except when the
    orchestrator asked (``envelope`` set): then a failed ticket answers it."""
    try:
        built, refusal = build(ports, cmd), None
    except (Problem, DomainError) as problem:
        if envelope is None:
            raise
        built, refusal = {"cluster": cmd.cluster, "nodes": [], "pools": []}, problem
    with ports.uow() as uow:
        if envelope and uow.already_processed("netcfg.ticket.plan", envelope.id):
            return ticket_view(lock(uow, cmd.ticket_id))
        existing = uow.tickets.get(cmd.ticket_id)
        if existing is not None:
            return ticket_view(existing)
        t = TicketRow(id=cmd.ticket_id, cluster=cmd.cluster, status=ticket_rules.PLANNED,
                      requested_by=cmd.requested_by, plan=built, comment=cmd.comment,
                      correlation_id=(envelope.correlation_id if envelope else None) or cmd.ticket_id)
        uow.tickets.add(t)
        if refusal is not None:
            fail(uow, t, *refusal_reason(refusal, "plan-refused"))
        else:
            emit(uow, TicketPlanned(ticket_id=t.id, cluster=cmd.cluster, requested_by=cmd.requested_by,
                                    plan=built), aggregate=t.id, correlation_id=t.correlation_id,
                 actor=cmd.requested_by)
        uow.commit()
        return ticket_view(t)


def approve(cmd: ApproveTicket, ports: Ports, envelope: Envelope | None = None) -> dict[str, Any]:
    """First human step: the plan is approved (not by its requester); submission follows."""
    with ports.uow() as uow:
        if envelope and uow.already_processed("netcfg.ticket.approve", envelope.id):
            return ticket_view(lock(uow, cmd.ticket_id))
        t = lock(uow, cmd.ticket_id)
        ticket_rules.check_not_requester(t.id, t.requested_by, cmd.approved_by, "approve")
        move(t, ticket_rules.APPROVED, "approved")
        t.approved_by = cmd.approved_by
        emit(uow, TicketApproved(ticket_id=t.id, cluster=t.cluster, approved_by=cmd.approved_by),
             aggregate=t.id, correlation_id=t.correlation_id, actor=cmd.approved_by)
        emit(uow, SubmitTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=cmd.approved_by)
        uow.commit()
        return ticket_view(t)


def confirm(cmd: ConfirmTicket, ports: Ports, envelope: Envelope | None = None) -> dict[str, Any]:
    """Second human step: the callback's content is confirmed; applying follows."""
    with ports.uow() as uow:
        if envelope and uow.already_processed("netcfg.ticket.confirm", envelope.id):
            return ticket_view(lock(uow, cmd.ticket_id))
        t = lock(uow, cmd.ticket_id)
        ticket_rules.check_can_confirm(t.id, t.status)
        ticket_rules.check_not_requester(t.id, t.requested_by, cmd.confirmed_by, "confirm")
        move(t, ticket_rules.CONFIRMED, "confirmed")
        t.confirmed_by = cmd.confirmed_by
        emit(uow, TicketConfirmed(ticket_id=t.id, cluster=t.cluster, confirmed_by=cmd.confirmed_by),
             aggregate=t.id, correlation_id=t.correlation_id, actor=cmd.confirmed_by)
        emit(uow, ApplyTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=cmd.confirmed_by)
        uow.commit()
        return ticket_view(t)


def retry(cmd: RetryTicket, ports: Ports) -> dict[str, Any]:
    """A ticket whose submission failed goes back to ``approved`` and is sent again (the
    same idempotency key, so VCalico never opens it twice)."""
    with ports.uow() as uow:
        t = lock(uow, cmd.ticket_id)
        ticket_rules.check_can_retry(t.id, t.status, t.failure_reason)
        move(t, ticket_rules.APPROVED, "retried")
        t.failure_reason = t.failure_detail = None
        emit(uow, TicketRetried(ticket_id=t.id, cluster=t.cluster, retried_by=cmd.actor),
             aggregate=t.id, correlation_id=t.correlation_id, actor=cmd.actor)
        emit(uow, SubmitTicket(ticket_id=t.id), aggregate=t.id, correlation_id=t.correlation_id,
             actor=cmd.actor)
        uow.commit()
        return ticket_view(t)


def cancel(cmd: CancelTicket, ports: Ports) -> dict[str, Any]:
    with ports.uow() as uow:
        t = lock(uow, cmd.ticket_id)
        move(t, ticket_rules.CANCELLED, "cancelled")
        emit(uow, TicketFailed(ticket_id=t.id, cluster=t.cluster, reason="cancelled",
                               detail=f"cancelled by {cmd.actor}"),
             aggregate=t.id, correlation_id=t.correlation_id, actor=cmd.actor)
        uow.commit()
        return ticket_view(t)


def expire_callbacks(ports: Ports) -> list[str]:
    """Fail every submitted ticket whose callback is overdue; nothing was applied."""
    deadline = utcnow() - timedelta(seconds=ports.callback_timeout_s)
    expired = []
    with ports.uow() as uow:
        for ticket_id in uow.tickets.submitted_before(deadline):
            t = lock(uow, ticket_id)
            if t.status == ticket_rules.SUBMITTED:
                fail(uow, t, "callback-timeout",
                     f"no VCalico callback for {t.vcalico_ticket_id} within "
                     f"{ports.callback_timeout_s:g} s; nothing was applied")
                expired.append(t.id)
        uow.commit()
    return expired
