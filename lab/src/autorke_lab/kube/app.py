"""The HTTP face of a lab cluster: the Kubernetes REST paths, bearer-token auth and
``Status`` errors, over the registry and the store.

Paths are parsed by hand rather than declared route by route, because the API is one
grammar: ``/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUBRESOURCE]]`` and the same under
``/apis/GROUP/VERSION``. A POST without Content-Type (the official client sends none) is
JSON; PATCH picks the patch format from its Content-Type.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from . import discovery, watch
from .disruption import evict
from .registry import Registry
from .resources import Resource, find
from .selectors import object_labels, parse_field_selector, parse_label_selector
from .status import KubeError, bad_request, method_not_allowed, not_found, success, unauthorized

_OPEN_PATHS = {"/healthz", "/livez", "/readyz"}


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str | None     # None: all namespaces (namespaced list/watch) or cluster scope
    name: str | None
    subresource: str | None


def _json(body: Any, code: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=code,
                    media_type="application/json")


def _parse(group: str, version: str, segments: list[str]) -> Target:
    namespace = None
    if (len(segments) >= 3 and segments[0] == "namespaces"
            and (res := find(group, version, segments[2])) is not None and res.namespaced):
        namespace, segments = segments[1], segments[2:]
    resource = find(group, version, segments[0]) if segments else None
    if resource is None or len(segments) > 3:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    if namespace is None and resource.namespaced and len(segments) > 1:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    name = segments[1] if len(segments) > 1 else None
    sub = segments[2] if len(segments) > 2 else None
    if sub is not None and sub not in resource.subresources:
        raise KubeError(404, "NotFound", "the server could not find the requested resource")
    return Target(resource, namespace, name, sub)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body of the request could not be decoded as JSON: {exc}") from None


def _list(registry: Registry, target: Target, params: Any) -> Response:
    resource = target.resource
    labels = parse_label_selector(params.get("labelSelector"))
    fields = parse_field_selector(params.get("fieldSelector"), resource.field_labels,
                                  resource.namespaced)
    items = [o for o in registry.store.list(resource, target.namespace)
             if labels(object_labels(o)) and fields(o)]
    meta: dict[str, Any] = {"resourceVersion": str(registry.store.resource_version)}
    start = 0
    if params.get("continue"):
        try:
            start = int(json.loads(base64.b64decode(params["continue"]))["start"])
        except (ValueError, KeyError, TypeError):
            raise bad_request("continue key is not valid") from None
    limit = int(params.get("limit") or 0)
    if limit > 0 and start + limit < len(items):
        token = {"rv": meta["resourceVersion"], "start": start + limit}
        meta["continue"] = base64.b64encode(json.dumps(token).encode()).decode()
        meta["remainingItemCount"] = len(items) - start - limit
        items = items[start:start + limit]
    else:
        items = items[start:]
    return _json({"kind": resource.list_kind, "apiVersion": resource.api_version,
                  "metadata": meta, "items": items})


def _watch(registry: Registry, target: Target, params: Any) -> StreamingResponse:
    resource = target.resource
    labels = parse_label_selector(params.get("labelSelector"))
    fields = parse_field_selector(params.get("fieldSelector"), resource.field_labels,
                                  resource.namespaced)
    timeout = params.get("timeoutSeconds")
    events = watch.stream(registry.store, resource, target.namespace,
                          params.get("resourceVersion"), float(timeout) if timeout else None,
                          lambda o: labels(object_labels(o)) and fields(o))
    return StreamingResponse(events, media_type="application/json")


async def _dispatch(registry: Registry, request: Request, target: Target) -> Response:
    method, params = request.method, request.query_params
    resource, ns, name = target.resource, target.namespace or "", target.name
    dry_run = params.get("dryRun") == "All"
    if name is None:
        if method == "GET":
            if params.get("watch") in ("true", "1"):
                return _watch(registry, target, params)
            return _list(registry, target, params)
        if method == "POST" and (not resource.namespaced or target.namespace is not None):
            return _json(registry.create(resource, ns, await _body(request), dry_run), 201)
        if method == "DELETE":
            labels = parse_label_selector(params.get("labelSelector"))
            deleted = [registry.delete(resource, ns, o["metadata"]["name"])
                       for o in registry.store.list(resource, target.namespace)
                       if labels(object_labels(o))]
            return _json({"kind": resource.list_kind, "apiVersion": resource.api_version,
                          "metadata": {}, "items": deleted})
        raise method_not_allowed()
    sub = target.subresource
    if sub == "eviction":
        if method != "POST":
            raise method_not_allowed()
        return _json(evict(registry, ns, name, await _body(request)), 201)
    if method == "GET":
        return _json(registry.store.get(resource, ns, name))
    if method == "PUT":
        return _json(registry.replace(resource, ns, name, await _body(request), sub, dry_run))
    if method == "PATCH":
        content_type = request.headers.get("content-type", "")
        return _json(registry.patch(resource, ns, name, content_type, await _body(request),
                                    sub, dry_run))
    if method == "DELETE" and sub is None:
        body = await _body(request)
        deleted = registry.delete(resource, ns, name, body, dry_run)
        if resource.custom or resource.key in ("pods", "namespaces"):
            return _json(deleted)    # what the real registry answers for these; else a Status
        details = {"name": name, "kind": resource.plural, "uid": deleted["metadata"]["uid"]}
        if resource.group:
            details["group"] = resource.group
        return _json(success(200, details))
    raise method_not_allowed()


def build_app(registry: Registry, tokens: set[str], git_version: str,
              server_address: str) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        if request.url.path not in _OPEN_PATHS:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in tokens:
                return _json(unauthorized().body(), 401)
        try:
            return await call_next(request)
        except KubeError as error:
            return _json(error.body(), error.code)

    @app.exception_handler(KubeError)
    async def status_error(request: Request, error: KubeError) -> Response:
        return _json(error.body(), error.code)

    @app.get("/healthz")
    @app.get("/livez")
    @app.get("/readyz")
    async def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    @app.get("/version")
    async def version() -> JSONResponse:
        return JSONResponse(discovery.version_info(git_version))

    @app.get("/api")
    async def api() -> JSONResponse:
        return JSONResponse(discovery.core_versions(server_address))

    @app.get("/apis")
    async def apis() -> JSONResponse:
        return JSONResponse(discovery.group_list())

    @app.get("/apis/{group}")
    async def api_group(group: str) -> Response:
        found = discovery.group(group)
        if found is None:
            raise not_found("groups", "", group)
        return _json(found)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    @app.api_route("/api/{version}", methods=["GET"])
    @app.api_route("/apis/{group}/{version}", methods=["GET"])
    async def resources_of(version: str, group: str = "") -> Response:
        found = discovery.resource_list(group, version)
        if found is None:
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
        return _json(found)

    @app.api_route("/api/{version}/{rest:path}", methods=methods)
    async def core(request: Request, version: str, rest: str) -> Response:
        return await _route(request, "", version, rest)

    @app.api_route("/apis/{group}/{version}/{rest:path}", methods=methods)
    async def grouped(request: Request, group: str, version: str, rest: str) -> Response:
        return await _route(request, group, version, rest)

    async def _route(request: Request, group: str, version: str, rest: str) -> Response:
        segments = [s for s in rest.split("/") if s]
        if not segments and request.method == "GET":   # the client asks for ".../v1/"
            return await resources_of(version, group)
        return await _dispatch(registry, request, _parse(group, version, segments))

    return app
