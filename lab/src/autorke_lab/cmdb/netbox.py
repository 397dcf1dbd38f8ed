"""A NetBox-compatible view of the lab CMDB, so the inventory's NetBox adapter is tested
over real HTTP with pynetbox (there is no NetBox in the lab).

It serves the CMDB's machines in the shape of NetBox's DCIM devices (NetBox 4.x REST)::

    GET /api/                       API root (API-Version header, as NetBox sends)
    GET /api/status/                {"netbox-version": "4.1.0", ...}
    GET /api/dcim/devices/?limit=&offset=&last_updated__gte=&name=
        -> {"count", "next", "previous", "results": [DEVICE...]}
    GET /api/dcim/devices/{id}/

DEVICE: ``id`` (the CMDB index), ``name`` (hostname), ``status`` {value, label}
(``active``, or ``decommissioning`` for a retired record), ``site`` {id, name, slug}
(the IDC), ``rack`` {id, name}, ``device_type`` {model, manufacturer {name, slug}},
``serial``, ``primary_ip4`` / ``primary_ip`` {id, family, address: "<ip>/32"},
``custom_fields`` {gpu_model, gpu_count, ssh_port, ssh_user, ssh_host_key}, ``tags``,
``last_updated`` (ISO 8601 with microseconds; the CMDB's ``updated_at``).
Devices are ordered by id. Tokens are accepted but not checked (lab only).
"""
from __future__ import annotations

import zlib

from fastapi import APIRouter, HTTPException, Query, Request, Response

from .inventory import Inventory

API_VERSION = "4.1"


def _iso(updated_at: str) -> str:
    return updated_at.replace("Z", "+00:00") if updated_at else updated_at


def device(record: dict) -> dict:
    index = int(record["id"].split("-")[1])
    hw = record.get("hardware") or {}
    gpu = hw.get("gpu") or {}
    ssh = record.get("ssh") or {}
    ip = (record.get("network") or {}).get("management_ip") or ssh.get("address")
    primary = {"id": index, "family": {"value": 4, "label": "IPv4"}, "address": f"{ip}/32"}
    rack = record.get("rack")
    site = record.get("idc")
    vendor = hw.get("vendor") or "unknown"
    status = "decommissioning" if record.get("status") == "retired" else "active"
    return {
        "id": index, "name": record["hostname"],
        "status": {"value": status, "label": status.capitalize()},
        "site": {"id": zlib.crc32(str(site).encode()) % 10_000, "name": site, "slug": site},
        "rack": {"id": zlib.crc32(rack.encode()) % 100_000, "name": rack} if rack else None,
        "device_type": {"model": hw.get("model"),
                        "manufacturer": {"name": vendor, "slug": vendor.lower()}},
        "serial": hw.get("serial") or "",
        "primary_ip": primary, "primary_ip4": primary, "primary_ip6": None,
        "custom_fields": {"gpu_model": gpu.get("model"), "gpu_count": gpu.get("count") or 0,
                          "ssh_port": ssh.get("port"), "ssh_user": ssh.get("user"),
                          "ssh_host_key": ssh.get("host_key")},
        "tags": [], "last_updated": _iso(record.get("updated_at", "")),
    }


def netbox_router(inventory: Inventory) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["netbox"])

    @router.get("/")
    def root(response: Response) -> dict:
        response.headers["API-Version"] = API_VERSION
        return {"dcim": "/api/dcim/"}

    @router.get("/status/")
    def status() -> dict:
        return {"netbox-version": f"{API_VERSION}.0", "python-version": "3.11"}

    @router.get("/dcim/devices/")
    def devices(request: Request, response: Response, limit: int = Query(50, ge=0, le=1000),
                offset: int = Query(0, ge=0), last_updated__gte: str | None = None,
                name: str | None = None) -> dict:
        response.headers["API-Version"] = API_VERSION
        items, _ = inventory.page(1, max(len(inventory), 1), include_retired=True)
        found = [device(r) for r in items if name is None or r["hostname"] == name]
        if last_updated__gte:
            found = [d for d in found if d["last_updated"] >= _iso(last_updated__gte)]
        limit = limit or 50
        page = found[offset:offset + limit]
        nxt = None
        if offset + limit < len(found):
            nxt = str(request.url.include_query_params(offset=offset + limit, limit=limit))
        prev = None
        if offset:
            prev = str(request.url.include_query_params(offset=max(offset - limit, 0), limit=limit))
        return {"count": len(found), "next": nxt, "previous": prev, "results": page}

    @router.get("/dcim/devices/{device_id}/")
    def one(device_id: int) -> dict:
        record = inventory.get(f"cmdb-{device_id:06d}")
        if record is None:
            raise HTTPException(404, "Not found.")
        return device(record)

    return router
