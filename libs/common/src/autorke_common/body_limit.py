"""How much of a request body a service reads: no more than the limit, and nothing at all
when the client announces more. uvicorn sets no limit of its own, so without this a single
client could make any service hold gigabytes in memory.

:class:`BodyLimit` is the ASGI middleware the app factory installs in every service: a
``Content-Length`` over the limit is refused with 413 before a byte of the body is read; a
body without one (``Transfer-Encoding: chunked``) is read only up to the limit and refused
as soon as it goes past it. A path may have a limit of its own: larger for a body that is
legitimately larger (a config import), smaller for one read before its sender is known (a
webhook). :func:`read_body` is the same cap inside a route that reads its raw body itself,
so the route's own limit holds wherever it is mounted.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autorke_common.errors import PROBLEM_CONTENT_TYPE, Problem

KIB = 1024
MIB = 1024 * KIB


def too_large(limit: int) -> Problem:
    return Problem("request-too-large", "Request body too large", 413,
                   f"the request body is larger than {limit} bytes", field="body", limit=limit)


def _length(raw: str | None) -> int | None:
    """The announced body length (None: not announced); 400 when it is not a number."""
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,19}", raw.strip()):
        raise Problem("invalid-content-length", "Invalid Content-Length", 400,
                      "Content-Length must be a decimal number of bytes", field="content-length")
    return int(raw)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return _length(value.decode("latin-1"))
    return None


async def _send_problem(problem: Problem, scope: Scope, send: Send) -> None:
    body = json.dumps(problem.to_dict(instance=scope.get("path"))).encode()
    await send({"type": "http.response.start", "status": problem.status, "headers": [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"connection", b"close"),   # the rest of the body is never read: do not reuse the connection
    ]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """``default`` bytes for every request; ``routes`` (path pattern, bytes): the first
    pattern matching the whole path gives that request's limit instead."""

    def __init__(self, app: ASGIApp, default: int, routes: Sequence[tuple[re.Pattern[str], int]] = ()) -> None:
        self.app = app
        self.default = default
        self.routes = tuple(routes)

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.routes:
            if pattern.fullmatch(path):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        try:
            announced = _content_length(scope)
        except Problem as problem:
            await _send_problem(problem, scope, send)
            return
        if announced is not None:
            if announced > limit:
                await _send_problem(too_large(limit), scope, send)
                return
            # the server (h11, httptools) delivers no more than Content-Length bytes
            await self.app(scope, receive, send)
            return
        # no length announced (chunked): read up to the limit before the app sees any of it
        early: list[Message] = []
        size = 0
        while True:
            message = await receive()
            early.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await _send_problem(too_large(limit), scope, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return early.pop(0) if early else await receive()

        await self.app(scope, replay, send)


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body of ``request``, refused with 413 (:func:`too_large`) when it announces
    or turns out to hold more than ``limit`` bytes; never more than ``limit`` is read."""
    announced = _length(request.headers.get("content-length"))
    if announced is not None and announced > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
