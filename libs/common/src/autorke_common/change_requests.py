"""Asking the orchestrator for a change on a caller's behalf.

A write that the platform only makes through an approved change (a cluster's options, a
config import or rollback, an IP pool) arrives at the service that owns the data; that
service checks it, keeps what the change will need, and then creates the change with the
orchestrator's public API, *as the caller*: the caller's own bearer token goes along, so
the orchestrator records the caller as the requester and the four-eyes rule holds (the
requester never approves their own change). The route then answers 202 with the change.

The orchestrator's refusals come back as the same problem (its slug, status and field),
and an orchestrator that cannot be reached is a 503 ``orchestrator-unavailable``: nothing
was changed.
"""
from __future__ import annotations

from typing import Any

import httpx

from autorke_common.errors import Problem
from autorke_common.replicas import Failover, primary

#: where the change a route created is found, and what a 202 from such a route carries
CHANGES_PATH = "/api/v1/changes"


class ChangeRequests:
    def __init__(self, orchestrator_url: str, timeout_s: float = 15.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        """``orchestrator_url`` may name its replicas (comma-separated): each request
        goes to the next (:mod:`autorke_common.replicas`)."""
        self.base = primary(orchestrator_url)
        self.timeout_s = timeout_s
        # one pooled client for the process (httpx.Client is thread-safe): the round-robin
        # turn lives in its transport
        self._client = httpx.Client(timeout=timeout_s, transport=Failover([orchestrator_url], transport))

    def create(self, *, type: str, cluster: str | None, params: dict[str, Any],
               targets: list[str] | None = None, authorization: str | None = None) -> dict[str, Any]:
        """Create the change and answer its view (``id``, ``status``, ``plan``, ...)."""
        headers = {"Authorization": authorization} if authorization else {}
        body = {"type": type, "cluster": cluster, "targets": targets or [], "params": params}
        try:
            resp = self._client.post(self.base + CHANGES_PATH, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Problem("orchestrator-unavailable", "The orchestrator cannot be reached", 503,
                          f"the change was not created: {exc.__class__.__name__}") from None
        if resp.status_code in (200, 201):
            return resp.json()
        raise _problem_of(resp)


def _problem_of(resp: httpx.Response) -> Problem:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    slug = str(body.get("type", "")).rsplit("/", 1)[-1] or "change-refused"
    status = resp.status_code if 400 <= resp.status_code < 500 else 502
    extensions = {k: v for k, v in body.items() if k not in ("type", "title", "status", "detail", "instance")}
    return Problem(slug, str(body.get("title") or "The orchestrator refused the change"), status,
                   body.get("detail"), **extensions)


def change_accepted(change: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of a route's 202: the change, and where to follow it."""
    return change, {"Location": f"{CHANGES_PATH}/{change['id']}"}
