"""The CLI's client of the public REST API (the console's ``/api/v1``): a bearer token,
JSON in and out, problem+json turned into :class:`ApiError`, and the event stream read as
server-sent events. It speaks nothing but the public API, like any other platform would."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

from autorke_common.errors import PROBLEM_BASE


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem

    @property
    def slug(self) -> str:
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]


class RestClient:
    def __init__(self, api: str, token: str | None, timeout_s: float = 30.0) -> None:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=api.rstrip("/") + "/api/v1/", headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            r = self.http.request(method, path.lstrip("/"), params=clean,
                                  json=body if body is not None else None)
        except httpx.HTTPError as exc:
            raise ApiError(0, {"title": "API unreachable", "detail": f"{self.http.base_url}: {exc}"}) from None
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = {"detail": r.text[:500]}
        if r.is_success:
            return data
        raise ApiError(r.status_code, data if isinstance(data, dict) else {"detail": str(data)})

    def list_all(self, path: str, params: dict | None = None, page_size: int = 500) -> dict:
        """Every item of a list (``{"items", "next_cursor"}``), following ``next_cursor``:
        ``{"items": [all of them], "next_cursor": None}``."""
        params = {**(params or {}), "limit": page_size}
        collected: list = []
        cursor: str | None = None
        while True:
            page = self.call("GET", path, params={**params, "cursor": cursor})
            collected.extend(page["items"])
            if not page.get("next_cursor") or page["next_cursor"] == cursor:
                return {"items": collected, "next_cursor": None}
            cursor = page["next_cursor"]

    def events(self, subject: str | None = None, correlation_id: str | None = None) -> Iterator[dict | None]:
        """Envelopes from ``/api/v1/events`` as they come; ``None`` once when the stream is
        ready (so a caller can fetch the current state without missing anything after)."""
        params = {k: v for k, v in {"subject": subject, "correlation_id": correlation_id}.items() if v}
        timeout = httpx.Timeout(30.0, read=None)
        with self.http.stream("GET", "events", params=params, timeout=timeout) as r:
            if not r.is_success:
                r.read()
                raise ApiError(r.status_code, r.json() if r.content else {})
            event, data = None, []
            for line in r.iter_lines():
                if line == "":
                    if event == "ready":
                        yield None
                    elif event in ("expired", "signed-out"):  # the server ends the stream here
                        raise ApiError(401, {"type": f"{PROBLEM_BASE}unauthenticated",
                                             "title": "Authentication required", "status": 401,
                                             "detail": json.loads("\n".join(data) or "{}").get("reason", event)})
                    elif event is None and data:
                        yield json.loads("\n".join(data))
                    event, data = None, []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
