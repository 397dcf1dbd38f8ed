"""The single API entry: ``/api/v1/*`` forwarded to the owning service, streamed both
ways, after the caller's token is checked here (each service checks it again). Also the
one merged OpenAPI document and ``/api/v1/me``."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from autorke_console.adapters.upstream import API_PREFIX, invalid_path
from autorke_console.domain.openapi import merge
from autorke_console.domain.routes import SERVICES, ForwardedPath, UnforwardablePath, forwarded_path, path_to_send
from autorke_console.entrypoints.deps import ApiCaller, UpstreamsDep
from autorke_console.entrypoints.session import api_caller

router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.get("/api/v1/openapi.json", tags=["console"], summary="The whole public API, merged")
async def openapi(request: Request, upstreams: UpstreamsDep) -> JSONResponse:
    answers = await asyncio.gather(*(upstreams.openapi(s) for s in SERVICES))
    docs = {s: a for s, a in zip(SERVICES, answers, strict=True) if isinstance(a, dict)}
    missing = {s: a for s, a in zip(SERVICES, answers, strict=True) if not isinstance(a, dict)}
    return JSONResponse(merge(docs, request.app.openapi(), unavailable=missing))


@router.get("/api/v1/me", tags=["console"], summary="Who the token or session belongs to")
def me(caller: ApiCaller) -> dict:
    return {"subject": caller.principal.subject, "name": caller.principal.name,
            "roles": sorted(caller.principal.roles), "via": "session" if caller.via_session else "token"}


def _sent_path(path: str, request: Request) -> ForwardedPath:
    """The path to send on, from the raw request line (still percent-encoded) when the server
    gives it: decoding and splitting first would lose what an encoded ``/`` meant."""
    raw = request.scope.get("raw_path") or b""
    prefix = API_PREFIX.encode() + b"/"
    try:
        if raw.startswith(prefix):
            return forwarded_path(raw[len(prefix):])
        return path_to_send(path)
    except UnforwardablePath as exc:
        raise invalid_path(exc) from None


@router.api_route("/api/v1/{path:path}", methods=METHODS, include_in_schema=False)
async def forward(path: str, request: Request, upstreams: UpstreamsDep) -> StreamingResponse:
    sent = _sent_path(path, request)
    route = upstreams.route(sent.segments, path)
    token = None
    if route.needs_token:  # not a dependency: the vcalico webhook is signed, not authenticated
        caller = await api_caller(request)
        token = caller.token
    client = request.client.host if request.client else ""
    forwarded = {"x-forwarded-for": client, "x-forwarded-proto": request.url.scheme,
                 "x-forwarded-host": request.headers.get("host", "")}
    body = request.stream() if request.method not in ("GET", "HEAD") else None
    response = await upstreams.forward(route.service, request.method, sent.wire,
                                       request.scope.get("query_string", b""), request.headers,
                                       body, token, forwarded)
    return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                             headers=upstreams.response_headers(response),
                             background=BackgroundTask(response.aclose))
