"""The console's HTTP client to the services behind it (httpx, one pooled client).

Two uses: :meth:`Upstreams.forward` streams a caller's request to the owning service and
the answer back (the gateway), and :meth:`Upstreams.call` makes one JSON call on behalf of
a signed-in user (the pages), answering an :class:`ApiResult` that says plainly when the
service is down or does not serve that API yet — a page shows that instead of data.
"""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry import propagate

from autorke_common.errors import Problem
from autorke_common.replicas import AsyncFailover, primary
from autorke_console.domain.routes import Route, UnforwardablePath, forwarded_query, path_to_send, route_of

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: Hop-by-hop headers (RFC 9110 7.6.1) and ones the console owns: never forwarded.
_DROP_REQUEST = {"host", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                 "te", "trailer", "transfer-encoding", "upgrade", "cookie", "content-length",
                 "x-csrf-token"}
_DROP_RESPONSE = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                  "trailer", "transfer-encoding", "upgrade", "set-cookie"}


def upstream_problem(service: str, exc: Exception) -> Problem:
    """A down, slow or broken upstream, as the caller should see it."""
    if isinstance(exc, httpx.ConnectError):
        return Problem("upstream-unavailable", "Service unavailable", 503,
                       f"the {service} service is not reachable", service=service)
    if isinstance(exc, httpx.TimeoutException):
        return Problem("upstream-timeout", "Service did not answer in time", 504,
                       f"the {service} service did not answer in time", service=service)
    return Problem("bad-gateway", "Bad gateway", 502,
                   f"the {service} service failed: {type(exc).__name__}", service=service)


def invalid_path(exc: UnforwardablePath) -> Problem:
    return Problem("invalid-path", "Invalid path", 400, str(exc), field="path")


@dataclass
class ApiResult:
    """One call's outcome for a page: ``data`` on success, else ``problem`` (a dict), and
    ``missing`` when the service is down or does not serve that path (yet)."""

    status: int
    data: Any = None
    problem: dict[str, Any] | None = None
    service: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def missing(self) -> bool:
        """The service is down, or it has no such API (a route-level 404/405)."""
        if self.status in (502, 503, 504):
            return True
        if self.status in (404, 405) and self.problem is not None:
            return self.problem.get("title") in ("Not Found", "Method Not Allowed")
        return False


class Upstreams:
    def __init__(self, base_urls: Mapping[str, str], timeout_s: float = 30.0,
                 connect_timeout_s: float = 3.0) -> None:
        """``base_urls``: each service's URL setting, which may name its replicas
        (comma-separated, :mod:`autorke_common.replicas`): requests go round-robin."""
        self._settings = list(base_urls.values())
        self.base_urls = {k: primary(v) for k, v in base_urls.items()}
        self._timeout = httpx.Timeout(timeout_s, connect=connect_timeout_s)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            pool = httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
            self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False,
                                             transport=AsyncFailover(self._settings, pool))
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @staticmethod
    def route(segments: tuple[str, ...], path: str) -> Route:
        route = route_of(segments)
        if route is None:
            raise Problem("not-found", "Not Found", 404, f"no service serves /api/v1/{path}")
        return route

    # -- the gateway ------------------------------------------------------------------
    async def forward(self, service: str, method: str, wire_path: str, query: bytes,
                      headers: Mapping[str, str], body: AsyncIterator[bytes] | None,
                      token: str | None, forwarded: Mapping[str, str]) -> httpx.Response:
        """Send the request on and answer the streamed response (caller closes it).
        ``wire_path`` is percent-encoded already (``domain.routes.forwarded_path``), and
        ``query`` the caller's raw query string."""
        out = {k: v for k, v in headers.items() if k.lower() not in _DROP_REQUEST}
        if token is not None:
            out = {k: v for k, v in out.items() if k.lower() != "authorization"}
            out["authorization"] = f"Bearer {token}"
        propagate.inject(out)  # traceparent: the caller's trace continues in the service
        out.update(forwarded)
        url = httpx.URL(f"{self.base_urls[service]}{API_PREFIX}/{wire_path}",
                        query=forwarded_query(query).encode("ascii"))
        request = self.client.build_request(method, url, headers=out, content=body)
        try:
            return await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise upstream_problem(service, exc) from None

    @staticmethod
    def response_headers(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k.lower() not in _DROP_RESPONSE}

    # -- the pages --------------------------------------------------------------------
    async def call(self, method: str, path: str, token: str | None, *,
                   params: Mapping[str, Any] | None = None, json: Any = None) -> ApiResult:
        try:
            sent = path_to_send(path.lstrip("/"))
        except UnforwardablePath as exc:
            return ApiResult(400, problem=invalid_path(exc).to_dict())
        route = self.route(sent.segments, path)
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        propagate.inject(headers)
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        url = f"{self.base_urls[route.service]}{API_PREFIX}/{sent.wire}"
        try:
            response = await self.client.request(method, url, params=clean, json=json, headers=headers)
        except httpx.HTTPError as exc:
            problem = upstream_problem(route.service, exc)
            return ApiResult(problem.status, problem=problem.to_dict(), service=route.service)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = {"detail": response.text[:500]}
        if response.is_success:
            return ApiResult(response.status_code, data=body, service=route.service,
                             headers=response.headers)
        problem = body if isinstance(body, dict) else {"title": str(body)}
        problem.setdefault("status", response.status_code)
        return ApiResult(response.status_code, problem=problem, service=route.service,
                         headers=response.headers)

    async def openapi(self, service: str) -> dict | str:
        """The service's OpenAPI document, or why it could not be had."""
        try:
            response = await self.client.get(f"{self.base_urls[service]}/openapi.json", timeout=5.0)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            return response.json()
        except ValueError:
            return "not JSON"
