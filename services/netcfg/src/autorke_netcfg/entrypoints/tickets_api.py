"""Thin REST routes for flat-network tickets (``network.flatten``) and VCalico's webhook.

``POST /api/v1/tickets`` plans (operator); ``:approve`` and ``:confirm`` are the two human
steps (approver, never the requester); ``:retry`` re-sends a ticket whose submission
failed; ``:cancel`` abandons one before anything is applied. The human steps are sent to
the same handlers, with the same commands, as the bus's. ``GET /api/v1/tickets`` is a page
(``{"items", "next_cursor"}``), newest first. The webhook is not behind a bearer token: its
HMAC signature is its authentication."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from autorke_common.auth import Approver, Operator, Viewer
from autorke_common.catalogue.netcfg import ApproveTicket, ConfirmTicket, PlanTicket, PoolSpec
from autorke_common.rest import CursorParam, Limit, Page
from autorke_netcfg.domain.commands import CancelTicket, ReceiveCallback, RetryTicket
from autorke_netcfg.entrypoints.deps import NetcfgPorts, RawBody
from autorke_netcfg.service_layer import callbacks, tickets, views

router = APIRouter(tags=["tickets"])


class FlatPool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=253)
    spec: PoolSpec


class TicketBody(BaseModel):
    """A ``network.flatten`` request: the cluster's nodes to peer with their racks' ToR
    switches, which of them are route reflectors, AS numbers per rack (optional), and the
    pool the fabric must accept."""

    model_config = ConfigDict(extra="forbid")
    cluster: str = Field(min_length=1)
    nodes: list[str] = Field(min_length=1)
    route_reflectors: list[str] = Field(default_factory=list)
    as_numbers: dict[str, int] = Field(default_factory=dict)
    pool: FlatPool
    comment: str | None = Field(default=None, max_length=2000)

    def command(self, requested_by: str) -> PlanTicket:
        """The plan command, for a new ticket."""
        return PlanTicket(ticket_id=tickets.new_ticket_id(), cluster=self.cluster, nodes=self.nodes,
                          route_reflectors=self.route_reflectors, as_numbers=self.as_numbers,
                          pool_name=self.pool.name, pool=self.pool.spec, requested_by=requested_by,
                          comment=self.comment)


@router.get("/api/v1/tickets")
def list_tickets(_: Viewer, ports: NetcfgPorts, cluster: str | None = None, status: str | None = None,
                 limit: Limit = 100, cursor: CursorParam = None) -> Page[dict[str, Any]]:
    return views.list_tickets(ports, limit, cursor, cluster, status)


@router.post("/api/v1/tickets", status_code=201)
def plan_ticket(body: TicketBody, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.plan(body.command(who.subject), ports)


@router.get("/api/v1/tickets/{ticket_id}")
def get_ticket(ticket_id: str, _: Viewer, ports: NetcfgPorts) -> dict:
    return views.get_ticket(ports, ticket_id)


@router.post("/api/v1/tickets/{ticket_id}:approve")
def approve_ticket(ticket_id: str, who: Approver, ports: NetcfgPorts) -> dict:
    return tickets.approve(ApproveTicket(ticket_id=ticket_id, approved_by=who.subject), ports)


@router.post("/api/v1/tickets/{ticket_id}:confirm")
def confirm_ticket(ticket_id: str, who: Approver, ports: NetcfgPorts) -> dict:
    return tickets.confirm(ConfirmTicket(ticket_id=ticket_id, confirmed_by=who.subject), ports)


@router.post("/api/v1/tickets/{ticket_id}:retry")
def retry_ticket(ticket_id: str, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.retry(RetryTicket(ticket_id, who.subject), ports)


@router.post("/api/v1/tickets/{ticket_id}:cancel")
def cancel_ticket(ticket_id: str, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.cancel(CancelTicket(ticket_id, who.subject), ports)


@router.post("/api/v1/webhooks/vcalico", tags=["webhooks"])
def vcalico_webhook(request: Request, body: RawBody, ports: NetcfgPorts) -> dict:
    return callbacks.receive(ReceiveCallback(dict(request.headers), body), ports)
