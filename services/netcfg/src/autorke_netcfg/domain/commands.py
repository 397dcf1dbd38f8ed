"""The requests netcfg's own REST API takes that never travel on the bus: a pool change
request, a ticket's retry and cancel, and VCalico's callback. The ticket steps other services send
(plan, approve, confirm, submit, apply) are the bus's commands, in
:mod:`autorke_common.catalogue.netcfg`; the REST API sends its handlers the same ones.
Each is what its handler needs, no more; the routes build them from the request."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestPoolChange:
    """Ask for an ``ippool.<operation>`` change (create, update, delete, enable, disable)
    of pool ``name``: checked at once, then created with the orchestrator as the caller
    (``authorization``: the caller's own ``Authorization`` header goes along, so the
    orchestrator records the real requester). ``spec``: the pool's Calico spec (create and
    update only)."""

    cluster: str
    name: str
    operation: str
    spec: dict[str, Any] | None
    actor: str
    authorization: str | None = None


@dataclass(frozen=True)
class RetryTicket:
    ticket_id: str
    actor: str


@dataclass(frozen=True)
class CancelTicket:
    ticket_id: str
    actor: str


@dataclass(frozen=True)
class ReceiveCallback:
    """VCalico's callback as it arrived: the raw body (the signature covers its bytes) and
    the headers; ``now`` (Unix seconds) is the clock the signature's window is checked
    against (None: the current time)."""

    headers: Mapping[str, str]
    body: bytes
    now: float | None = None
