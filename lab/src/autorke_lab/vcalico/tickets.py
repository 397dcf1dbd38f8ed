"""Flat-network tickets and the network team's answer to them.

A ticket asks the (simulated) network team to peer a cluster's nodes with the top-of-rack
switches: which nodes, in which racks, which route reflectors, which AS numbers and which
pod CIDRs the fabric must accept. The answer is what a real network team sends back: per
rack the ToR peer IP and AS number (the AS-per-rack model of RFC 7938), the route
reflectors' cluster ids and the pools it accepted. No I/O here: the app and the callback
sender use these models.
"""
from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import threading
import time
import uuid

from pydantic import BaseModel, Field, field_validator

BASE_RACK_AS = 65100  # private 2-byte ASNs, one per rack when the ticket asks for none
RR_CLUSTER_ID = "244.0.0.1"


class Mode(str, enum.Enum):
    """How VCalico answers tickets submitted while the mode is set."""

    NORMAL = "normal"  # approve, one callback
    REJECT = "reject"  # the network team says no
    FAIL = "fail"  # their automation broke
    DUPLICATE = "duplicate"  # approve, but deliver the callback twice
    SILENT = "silent"  # never call back
    DOWN = "down"  # submissions answer 503


class Result(str, enum.Enum):
    APPROVED = "approved"
    REJECTED = "rejected"
    FAILED = "failed"


class TicketNode(BaseModel):
    name: str = Field(min_length=1)
    ip: str
    rack: str = Field(min_length=1)

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str) -> str:
        return str(ipaddress.ip_address(v))


class TicketPool(BaseModel):
    cidr: str
    block_size: int = 26

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return str(ipaddress.ip_network(v, strict=True))


class TicketRequest(BaseModel):
    """What netcfg submits (``POST /api/v1/tickets``)."""

    cluster: str = Field(min_length=1)
    nodes: list[TicketNode] = Field(min_length=1)
    route_reflectors: list[str] = Field(default_factory=list, description="node names")
    as_numbers: dict[str, int] = Field(
        default_factory=dict, description="requested AS number per rack; assigned if absent"
    )
    pools: list[TicketPool] = Field(min_length=1)
    requested_by: str | None = None
    comment: str | None = None

    def fingerprint(self) -> str:
        """A digest of the content, to spot an Idempotency-Key reused for another ticket."""
        raw = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()


class BGPPeerAnswer(BaseModel):
    rack: str
    peer_ip: str
    as_number: int
    node_selector: str
    nodes: list[str]


class NetworkAnswer(BaseModel):
    bgp_peers: list[BGPPeerAnswer]
    node_as_numbers: dict[str, int]
    route_reflectors: list[dict[str, str]]
    accepted_pools: list[TicketPool]


class Callback(BaseModel):
    """The body VCalico POSTs to the webhook (signed, see ``signing``)."""

    event_id: str
    ticket_id: str
    cluster: str
    result: Result
    reason: str | None = None
    answer: NetworkAnswer | None = None
    answered_at: float


class Ticket(BaseModel):
    id: str
    status: str  # submitted -> answered
    mode: Mode
    request: TicketRequest
    submitted_at: float
    result: Result | None = None
    callback: Callback | None = None
    deliveries: list[dict] = Field(default_factory=list)


def tor_ip(node_ips: list[str]) -> str:
    """The rack's ToR address: the last usable address of the rack's /24 (lab convention)."""
    net = ipaddress.ip_network(f"{node_ips[0]}/24", strict=False)
    return str(net.broadcast_address - 1)


def answer(request: TicketRequest) -> NetworkAnswer:
    """The network team's answer when it approves: peers per rack, AS numbers, RRs, pools."""
    racks: dict[str, list[TicketNode]] = {}
    for node in request.nodes:
        racks.setdefault(node.rack, []).append(node)
    peers = []
    node_as: dict[str, int] = {}
    for index, (rack, nodes) in enumerate(sorted(racks.items())):
        asn = request.as_numbers.get(rack, BASE_RACK_AS + index)
        peers.append(
            BGPPeerAnswer(
                rack=rack,
                peer_ip=tor_ip([n.ip for n in nodes]),
                as_number=asn,
                node_selector=f"rack == '{rack}'",
                nodes=[n.name for n in nodes],
            )
        )
        node_as.update({n.name: asn for n in nodes})
    names = {n.name for n in request.nodes}
    rrs = [{"node": n, "cluster_id": RR_CLUSTER_ID} for n in request.route_reflectors if n in names]
    return NetworkAnswer(
        bgp_peers=peers,
        node_as_numbers=node_as,
        route_reflectors=rrs,
        accepted_pools=list(request.pools),
    )


def decide(ticket: Ticket) -> Callback:
    """The callback a ticket gets under the mode it was submitted in."""
    req = ticket.request
    base = {"event_id": str(uuid.uuid4()), "ticket_id": ticket.id, "cluster": req.cluster}
    unknown_rrs = sorted(set(req.route_reflectors) - {n.name for n in req.nodes})
    if ticket.mode is Mode.REJECT or unknown_rrs:
        reason = (
            f"route reflectors not among the ticket's nodes: {', '.join(unknown_rrs)}"
            if unknown_rrs and ticket.mode is not Mode.REJECT
            else "rejected by the network team: prefixes not approved for this fabric"
        )
        return Callback(**base, result=Result.REJECTED, reason=reason, answered_at=time.time())
    if ticket.mode is Mode.FAIL:
        return Callback(
            **base,
            result=Result.FAILED,
            reason="network automation failed while configuring the ToR switches",
            answered_at=time.time(),
        )
    return Callback(**base, result=Result.APPROVED, answer=answer(req), answered_at=time.time())


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused with a different ticket body."""


class TicketBook:
    """The tickets VCalico has received, in memory (the lab restarts clean)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[str, Ticket] = {}
        self._by_key: dict[str, tuple[str, str]] = {}

    def submit(self, request: TicketRequest, mode: Mode, key: str | None) -> tuple[Ticket, bool]:
        """Store a ticket; ``(ticket, created)``. A known key returns the first ticket."""
        with self._lock:
            if key is not None and key in self._by_key:
                ticket_id, fingerprint = self._by_key[key]
                if fingerprint != request.fingerprint():
                    raise IdempotencyConflict(key)
                return self._tickets[ticket_id], False
            ticket = Ticket(
                id=f"VC-{uuid.uuid4().hex[:12]}",
                status="submitted",
                mode=mode,
                request=request,
                submitted_at=time.time(),
            )
            self._tickets[ticket.id] = ticket
            if key is not None:
                self._by_key[key] = (ticket.id, request.fingerprint())
            return ticket, True

    def get(self, ticket_id: str) -> Ticket | None:
        with self._lock:
            return self._tickets.get(ticket_id)

    def all(self) -> list[Ticket]:
        with self._lock:
            return list(self._tickets.values())

    def answered(self, ticket_id: str, callback: Callback) -> None:
        with self._lock:
            t = self._tickets[ticket_id]
            t.status, t.result, t.callback = "answered", callback.result, callback

    def record_delivery(self, ticket_id: str, delivery: dict) -> None:
        with self._lock:
            self._tickets[ticket_id].deliveries.append(delivery)
