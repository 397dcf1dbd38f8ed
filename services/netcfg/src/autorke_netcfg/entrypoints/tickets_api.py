"""Thin REST routes for flat-network tickets (``network.flatten``) and VCalico's webhook.

``POST /api/v1/tickets`` plans (operator); ``:approve`` and ``:confirm`` are the two human
steps (approver, never the requester); ``:retry`` re-sends a ticket whose submission
failed; ``:cancel`` abandons one before anything is applied. The webhook is not behind a
bearer token: its HMAC signature is its authentication."""
from __future__ import annotations

import asyncio

from autorke_common.auth import Approver, Operator, Viewer
from autorke_common.catalogue.netcfg import PoolSpec
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from autorke_netcfg.entrypoints.deps import NetcfgPorts
from autorke_netcfg.service_layer import callbacks, tickets

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


@router.get("/api/v1/tickets")
def list_tickets(_: Viewer, ports: NetcfgPorts, cluster: str | None = None,
                 status: str | None = None) -> list[dict]:
    return tickets.list_tickets(ports, cluster, status)


@router.post("/api/v1/tickets", status_code=201)
def plan_ticket(body: TicketBody, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.plan(ports, cluster=body.cluster, nodes=body.nodes,
                        route_reflectors=body.route_reflectors, as_numbers=body.as_numbers,
                        pool_name=body.pool.name,
                        pool_spec=body.pool.spec.model_dump(exclude_none=True, exclude_unset=True),
                        requested_by=who.subject, comment=body.comment)


@router.get("/api/v1/tickets/{ticket_id}")
def get_ticket(ticket_id: str, _: Viewer, ports: NetcfgPorts) -> dict:
    return tickets.get(ports, ticket_id)


@router.post("/api/v1/tickets/{ticket_id}:approve")
def approve_ticket(ticket_id: str, who: Approver, ports: NetcfgPorts) -> dict:
    return tickets.approve(ports, ticket_id, who.subject)


@router.post("/api/v1/tickets/{ticket_id}:confirm")
def confirm_ticket(ticket_id: str, who: Approver, ports: NetcfgPorts) -> dict:
    return tickets.confirm(ports, ticket_id, who.subject)


@router.post("/api/v1/tickets/{ticket_id}:retry")
def retry_ticket(ticket_id: str, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.retry(ports, ticket_id, who.subject)


@router.post("/api/v1/tickets/{ticket_id}:cancel")
def cancel_ticket(ticket_id: str, who: Operator, ports: NetcfgPorts) -> dict:
    return tickets.cancel(ports, ticket_id, who.subject)


@router.post("/api/v1/webhooks/vcalico", tags=["webhooks"])
async def vcalico_webhook(request: Request, ports: NetcfgPorts) -> dict:
    body = await request.body()
    return await asyncio.to_thread(callbacks.receive, ports, dict(request.headers), body)
