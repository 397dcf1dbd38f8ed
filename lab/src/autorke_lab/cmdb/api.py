"""The CMDB's HTTP API (see the package docstring for the JSON format)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query

from .inventory import Inventory

MAX_LIMIT = 1000


def cmdb_router(inventory: Inventory) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["cmdb"])

    @router.get("/hosts")
    def list_hosts(page: int = Query(1, ge=1), page_size: int = Query(100, ge=1, le=MAX_LIMIT),
                   include_retired: bool = False) -> dict:
        items, total = inventory.page(page, page_size, include_retired)
        return {"items": items, "page": page, "page_size": page_size, "total": total,
                "revision": inventory.revision}

    @router.get("/hosts/changes")
    def changes(since: int = Query(0, ge=0), limit: int = Query(500, ge=1, le=MAX_LIMIT)) -> dict:
        items, next_since, has_more = inventory.changes(since, limit)
        return {"items": items, "since": since, "next_since": next_since, "has_more": has_more,
                "revision": inventory.revision}

    @router.get("/hosts/{key}")
    def get_host(key: str) -> dict:
        record = inventory.get(key)
        if record is None:
            raise HTTPException(404, f"no host {key!r}")
        return record

    @router.post("/hosts", status_code=201)
    def add_host(fields: Annotated[dict, Body()]) -> dict:
        try:
            return inventory.add(fields)
        except ValueError as e:
            raise HTTPException(409, str(e)) from None

    @router.patch("/hosts/{key}")
    def change_host(key: str, patch: Annotated[dict, Body()]) -> dict:
        try:
            return inventory.change(key, patch)
        except KeyError:
            raise HTTPException(404, f"no host {key!r}") from None
        except ValueError as e:
            raise HTTPException(409, str(e)) from None

    @router.post("/hosts/{key}/retire")
    def retire_host(key: str) -> dict:
        try:
            return inventory.retire(key)
        except KeyError:
            raise HTTPException(404, f"no host {key!r}") from None

    @router.delete("/hosts/{key}")
    def delete_host(key: str) -> dict:
        return retire_host(key)

    return router
