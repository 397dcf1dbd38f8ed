"""The FastAPI app factory every service uses: ``/healthz``, ``/readyz`` (database and
NATS reachable), ``/metrics`` (Prometheus), OpenAPI, problem+json errors, a tracing
middleware and a request body limit (:mod:`autorke_common.body_limit`: 1 MiB by default,
``AUTORKE_REQUEST_BODY_LIMIT_BYTES``; a config import may carry a whole cluster.yml and
cluster.rkestate, ``AUTORKE_IMPORT_BODY_LIMIT_BYTES``, 16 MiB; VCalico's webhook 64 KiB).
The service's :class:`~autorke_common.runtime.ServiceRuntime` is started and stopped by the
app's lifespan, so ``uvicorn`` alone runs a whole service."""
from __future__ import annotations

import importlib.resources
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from autorke_common import claims
from autorke_common.auth import Authenticator
from autorke_common.body_limit import KIB, BodyLimit
from autorke_common.errors import PROBLEM_CONTENT_TYPE, DomainError, Problem, problem_of
from autorke_common.runtime import ServiceRuntime

log = logging.getLogger(__name__)
tracer = trace.get_tracer("autorke.http")

# Bodies limited otherwise than the default, by path: the same public paths at the
# console's gateway and at the service behind it, so both refuse alike.
IMPORT_PATH = re.compile(r"/api/v1/clusters/[^/]+:import")   # cluster.yml + cluster.rkestate
WEBHOOK_PATH = re.compile(r"/api/v1/webhooks/[^/]+")          # unauthenticated until its HMAC is checked
WEBHOOK_BODY_LIMIT = 64 * KIB


def problem_response(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(problem.to_dict(instance=str(request.url.path)), status_code=problem.status,
                        media_type=PROBLEM_CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(problem_of(exc), request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
                  for e in exc.errors()]
        return problem_response(Problem("invalid-request", "Invalid request", 422,
                                        "the request does not match the schema", errors=errors), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
                412: "precondition-failed", 413: "request-too-large"}.get(exc.status_code, "http-error")
        return problem_response(Problem(slug, str(exc.detail), exc.status_code), request)


#: Where /docs loads Swagger UI from: files shipped in a wheel (fastapi-offline's), served
#: by the service itself, since a data centre's browsers often reach no CDN.
SWAGGER_ASSETS = "/_swagger"


def local_docs(app: FastAPI, openapi_url: str, title: str) -> None:
    """``/docs``: Swagger UI over ``openapi_url``, with its script and style from this service."""
    static = importlib.resources.files("fastapi_offline") / "static"
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=str(static)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=title,
                                   swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon.png")


def create_service_app(runtime: ServiceRuntime, routers: Sequence[APIRouter] = (),
                       title: str | None = None, version: str = "0.1.0",
                       docs_openapi_url: str = "/openapi.json") -> FastAPI:
    """The service's app; ``docs_openapi_url``: the document its ``/docs`` page shows (the
    console shows the merged API's)."""
    name = runtime.settings.service_name

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title or f"AutoRKE {name}", version=version, lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    local_docs(app, docs_openapi_url, f"{app.title} API")
    app.state.runtime = runtime
    settings = runtime.settings
    app.state.auth_disabled = settings.auth_disabled
    app.state.authenticator = (Authenticator(settings.oidc_issuer, settings.oidc_audience,
                                             jwks_cache_s=settings.oidc_jwks_cache_s,
                                             jwks_refetch_cooldown_s=settings.oidc_jwks_refetch_cooldown_s)
                               if settings.oidc_issuer else None)
    if settings.auth_disabled:
        log.warning("AUTHENTICATION IS DISABLED (AUTORKE_AUTH_DISABLED): every caller is admin")
    install_problem_handlers(app)

    registry = CollectorRegistry()
    requests = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)
    runtime.register_metrics(registry)

    @app.middleware("http")
    async def _trace_and_measure(request: Request, call_next):
        ctx = propagate.extract(dict(request.headers))
        start = time.perf_counter()
        with tracer.start_as_current_span(f"{request.method} {request.url.path}", context=ctx,
                                          kind=SpanKind.SERVER):
            response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        requests.labels(request.method, route, str(response.status_code)).inc()
        latency.labels(request.method, route).observe(time.perf_counter() - start)
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok", "service": name}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(checks.values())
        return JSONResponse({"status": "ready" if ok else "not-ready", "checks": checks},
                            status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    # added last, so it runs first: nothing reads a body before its size is checked
    app.add_middleware(BodyLimit, default=settings.request_body_limit_bytes,
                       routes=[(IMPORT_PATH, settings.import_body_limit_bytes),
                               (WEBHOOK_PATH, WEBHOOK_BODY_LIMIT)])

    readers = claims.readers_from(settings)
    if readers is not None:  # this service holds claims others fetch
        app.include_router(claims.router(runtime.db, name, readers))
    for router in routers:
        app.include_router(router)
    return app
