"""Submitting a ticket to VCalico, the network team's ticket system, over HTTP (httpx).

Every attempt carries the same ``Idempotency-Key`` (the netcfg ticket id), so a retry
after a lost answer never opens a second ticket. Connection errors, timeouts, 5xx and 429
are retried with exponential back-off (honouring ``Retry-After`` up to the back-off cap);
any other 4xx is VCalico refusing the request and is not retried. A success answer that
names no usable ticket id (not JSON, not an object, no ``id``, or one that is not a short
printable string) is a refusal too (L9): the ticket fails with the reason, instead of a
KeyError that dead-letters the command and leaves the ticket ``approved``.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx


class VCalicoUnavailable(Exception):
    """VCalico did not accept the ticket after every attempt (retryable later)."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class VCalicoRefused(Exception):
    """VCalico answered 4xx: the request itself is wrong; retrying will not help."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


#: What a VCalico ticket id may be: it is stored, logged, shown and matched against callbacks.
_TICKET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def ticket_id_of(response: httpx.Response, attempt: int) -> str:
    """The ticket id a 2xx answer names; :class:`VCalicoRefused` when it names none."""
    try:
        body = response.json()
    except ValueError:
        raise VCalicoRefused(f"VCalico answered {response.status_code} without JSON: "
                             f"{response.text[:200]!r}", attempt) from None
    ticket = body.get("id") if isinstance(body, dict) else None
    if not isinstance(ticket, str) or not _TICKET_ID.fullmatch(ticket):
        shown = "no id" if ticket is None else f"an unusable id {str(ticket)[:60]!r}"
        raise VCalicoRefused(f"VCalico answered {response.status_code} with {shown}: "
                             f"{response.text[:200]!r}", attempt)
    return ticket


@dataclass(frozen=True)
class Submission:
    vcalico_ticket_id: str
    attempts: int


class VCalicoClient:
    def __init__(self, base_url: str, attempts: int = 4, backoff_s: float = 1.0,
                 max_backoff_s: float = 10.0, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s

    def submit(self, body: dict[str, Any], idempotency_key: str) -> Submission:
        last = "no attempt made"
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as http:
            for attempt in range(1, self.attempts + 1):
                retry_after: float | None = None
                try:
                    response = http.post("/api/v1/tickets", json=body,
                                         headers={"Idempotency-Key": idempotency_key})
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__} talking to VCalico"
                else:
                    if response.status_code in (200, 201, 202):
                        return Submission(ticket_id_of(response, attempt), attempt)
                    if response.status_code in (429,) or response.status_code >= 500:
                        last = f"VCalico answered {response.status_code}"
                        retry_after = _seconds(response.headers.get("Retry-After"))
                    else:
                        raise VCalicoRefused(
                            f"VCalico refused the ticket: {response.status_code} "
                            f"{response.text[:300]}", attempt)
                if attempt < self.attempts:
                    delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                    if retry_after is not None:
                        delay = min(self.max_backoff_s, max(delay, retry_after))
                    time.sleep(delay)
        raise VCalicoUnavailable(f"{last} after {self.attempts} attempts", self.attempts)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
