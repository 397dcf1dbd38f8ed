"""The requests netcfg's own REST API takes that never travel on the bus: pool writes, a
ticket's retry and cancel, and VCalico's callback. The ticket steps other services send
(plan, approve, confirm, submit, apply) are the bus's commands, in
:mod:`autorke_common.catalogue.netcfg`; the REST API sends its handlers the same ones.
Each is what its handler needs, no more; the routes build them from the request."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreatePool:
    cluster: str
    name: str
    spec: dict[str, Any]
    actor: str


@dataclass(frozen=True)
class UpdatePool:
    cluster: str
    name: str
    spec: dict[str, Any]
    actor: str


@dataclass(frozen=True)
class SetPoolDisabled:
    """Enable (``disabled=False``) or disable a pool."""

    cluster: str
    name: str
    disabled: bool
    actor: str


@dataclass(frozen=True)
class DeletePool:
    cluster: str
    name: str
    actor: str


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
