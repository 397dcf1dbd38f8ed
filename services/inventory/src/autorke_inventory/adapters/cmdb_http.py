"""The generic HTTP/JSON CMDB adapter (the format is in services/inventory/README.md; the
lab CMDB speaks it). A real CMDB is fronted by a small service that answers
``GET /api/v1/hosts/changes?since=N&limit=M`` with that shape.

The cursor is the CMDB's revision number: ``since=0`` is a full read, and the
``next_since`` of the last page is kept for the next incremental sync."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from autorke_common.errors import TemporaryError
from autorke_inventory.domain.records import SourcePage, SourceRecord


def record_from_host(host: dict[str, Any]) -> SourceRecord:
    hardware = host.get("hardware") or {}
    gpu = hardware.get("gpu") or {}
    network = host.get("network") or {}
    ssh = host.get("ssh") or {}
    return SourceRecord(
        id=str(host["id"]),
        hostname=str(host["hostname"]),
        ip=network.get("management_ip") or ssh.get("address"),
        retired=host.get("status") == "retired",
        rack=host.get("rack"),
        site=host.get("idc"),
        gpu_model=gpu.get("model"),
        gpu_count=int(gpu.get("count") or 0),
        data={
            "hardware": hardware,
            "os": host.get("os") or {},
            "network": {**network, "rack_unit": host.get("rack_unit")},
            "ssh": ssh,
            "owner": host.get("owner") or {},
            "environment": host.get("environment"),
            "labels": host.get("labels") or {},
        },
    )


class HttpCmdbSource:
    name = "cmdb"

    def __init__(self, url: str, token: str | None = None, page_size: int = 1000,
                 timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
        self.page_size = page_size

    def pages(self, cursor: str | None) -> Iterator[SourcePage]:
        since = int(cursor or 0)
        while True:
            try:
                response = self.client.get("/api/v1/hosts/changes",
                                           params={"since": since, "limit": self.page_size})
                response.raise_for_status()
            except httpx.HTTPError as exc:
                raise TemporaryError(f"CMDB unreachable: {type(exc).__name__}: {exc}", 30) from exc
            body = response.json()
            records = [record_from_host(h) for h in body.get("items", [])]
            more = bool(body.get("has_more"))
            if more and int(body["next_since"]) <= since:  # M9: it would answer the same page forever
                raise TemporaryError(f"CMDB cursor does not advance (next_since {body['next_since']} after "
                                     f"{since}, has_more): sync stopped", 60)
            since = int(body["next_since"])
            yield SourcePage(records, str(since), more)
            if not more:
                return

    def close(self) -> None:
        self.client.close()
