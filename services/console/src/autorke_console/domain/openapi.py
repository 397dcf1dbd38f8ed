"""One OpenAPI document for the whole public API, merged from the services' own.

Each service serves ``/openapi.json``; the console keeps their ``/api/v1`` paths (the
operational ``/healthz``-style paths are per service and stay out), tags each operation
with its owning service, and merges ``components.schemas``. Two services may both define
a schema of the same name (``Problem``, ``HTTPValidationError``): identical definitions
are kept once, different ones are renamed ``<service>.<Name>`` with every ``$ref``
rewritten, so no service's schema silently replaces another's.
"""
from __future__ import annotations

import copy
from typing import Any

REF_PREFIX = "#/components/schemas/"


def _rewrite_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                name = value[len(REF_PREFIX):]
                out[key] = REF_PREFIX + renames.get(name, name)
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, renames) for v in node]
    return node


def merge(documents: dict[str, dict], own: dict | None = None, *, title: str = "AutoRKE API",
          version: str = "1", unavailable: dict[str, str] | None = None) -> dict:
    """``documents`` maps service name → its OpenAPI document; ``own`` is the console's
    (its ``/api/v1`` paths are kept too). ``unavailable`` (service → reason) is recorded in
    ``x-autorke-unavailable`` so a reader sees which parts are missing and why."""
    paths: dict[str, dict] = {}
    schemas: dict[str, Any] = {}
    tags: list[dict] = []
    sources = dict(documents)
    if own is not None:
        sources = {"console": own, **sources}
    for service, doc in sources.items():
        doc = copy.deepcopy(doc)
        theirs = (doc.get("components") or {}).get("schemas") or {}
        renames: dict[str, str] = {}
        for name, schema in theirs.items():
            if name in schemas and schemas[name] != _rewrite_refs(schema, {}):
                renames[name] = f"{service}.{name}"
        for name, schema in theirs.items():
            schemas[renames.get(name, name)] = _rewrite_refs(schema, renames)
        kept = 0
        for path, item in (doc.get("paths") or {}).items():
            if not path.startswith("/api/v1"):
                continue
            item = _rewrite_refs(item, renames)
            for operation in item.values():
                if isinstance(operation, dict) and "responses" in operation:
                    operation["tags"] = [service]
                    if "operationId" in operation:
                        operation["operationId"] = f"{service}.{operation['operationId']}"
            paths.setdefault(path, {}).update(item)
            kept += 1
        tags.append({"name": service, "description": f"{kept} paths from {service}"})
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
        "tags": tags,
    }
    if unavailable:
        merged["x-autorke-unavailable"] = dict(unavailable)
    return merged
