"""Reaching a service that runs as several replicas through one address.

A service's URL setting may name its replicas, comma-separated
(``AUTORKE_ORCHESTRATOR_URL=http://127.0.0.1:8102,http://127.0.0.1:8122``), as
``autorke up --replicas N`` sets them. The client is built on the first address, and its
transport (:class:`Failover` / :class:`AsyncFailover`) sends each request to the next
replica in turn (round-robin) and, when one refuses the connection (a replica killed or
restarting), to the one after it: a connect error means the request never reached that
replica, so sending it elsewhere is safe for every method. Any other error, or an answer,
is final. In Kubernetes a Service does this, and the setting holds one address.
"""
from __future__ import annotations

import itertools
import threading

import httpx


def replica_urls(setting: str) -> list[str]:
    """The replicas a URL setting names, in order, without trailing slashes."""
    urls = [u.strip().rstrip("/") for u in setting.split(",") if u.strip()]
    if not urls:
        raise ValueError("a service URL setting names no address")
    return urls


def primary(setting: str) -> str:
    """The address a client is built on (the first replica)."""
    return replica_urls(setting)[0]


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


class _Rotation:
    """For each service: its replicas' origins and a thread-safe round-robin start."""

    def __init__(self, settings: list[str]) -> None:
        self._replicas: dict[tuple, list[httpx.URL]] = {}
        self._turns: dict[tuple, itertools.count] = {}
        self._lock = threading.Lock()
        for setting in settings:
            urls = [httpx.URL(u) for u in replica_urls(setting)]
            self._replicas[_origin(urls[0])] = urls
            self._turns[_origin(urls[0])] = itertools.count()

    def candidates(self, request: httpx.Request) -> list[httpx.URL]:
        """The request's URL on every replica, starting with the next one's turn."""
        key = _origin(request.url)
        replicas = self._replicas.get(key)
        if replicas is None or len(replicas) == 1:
            return [request.url]
        with self._lock:
            start = next(self._turns[key]) % len(replicas)
        order = replicas[start:] + replicas[:start]
        return [request.url.copy_with(scheme=r.scheme, host=r.host, port=r.port) for r in order]


def _aim(request: httpx.Request, url: httpx.URL) -> None:
    request.url = url
    request.headers["Host"] = url.netloc.decode("ascii")


class Failover(httpx.BaseTransport):
    def __init__(self, settings: list[str], inner: httpx.BaseTransport | None = None) -> None:
        self._rotation = _Rotation(settings)
        self._inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        candidates = self._rotation.candidates(request)
        for url in candidates[:-1]:
            _aim(request, url)
            try:
                return self._inner.handle_request(request)
            except httpx.ConnectError:
                continue
        _aim(request, candidates[-1])
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncFailover(httpx.AsyncBaseTransport):
    def __init__(self, settings: list[str], inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._rotation = _Rotation(settings)
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        candidates = self._rotation.candidates(request)
        for url in candidates[:-1]:
            _aim(request, url)
            try:
                return await self._inner.handle_async_request(request)
            except httpx.ConnectError:
                continue
        _aim(request, candidates[-1])
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
