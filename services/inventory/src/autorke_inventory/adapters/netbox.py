"""The NetBox adapter (pynetbox): DCIM devices with their primary IP, rack and site, and
the GPU from custom fields ``gpu_model`` / ``gpu_count`` (SSH details from the custom
fields ``ssh_port``, ``ssh_user``, ``ssh_host_key`` when present).

A device's inventory id is ``netbox-<device id>``. Devices in status ``decommissioning``
or ``offline`` count as retired. The cursor is the newest ``last_updated`` seen; an
incremental sync asks for ``last_updated__gte`` that time (a device updated in the same
instant is read twice, which the sync ignores as unchanged)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pynetbox
import requests
from requests.adapters import HTTPAdapter

from autorke_common.errors import TemporaryError
from autorke_inventory.domain.records import SourcePage, SourceRecord

RETIRED_STATUSES = frozenset({"decommissioning", "offline"})


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("slug") or value.get("name") or value.get("display")
    return value


def record_from_device(device: dict[str, Any]) -> SourceRecord:
    primary = device.get("primary_ip4") or device.get("primary_ip") or {}
    ip = (primary.get("address") or "").split("/")[0] or None
    custom = device.get("custom_fields") or {}
    status = device.get("status") or {}
    status_value = status.get("value") if isinstance(status, dict) else status
    device_type = device.get("device_type") or {}
    return SourceRecord(
        id=f"netbox-{device['id']}",
        hostname=str(device["name"]),
        ip=ip,
        retired=status_value in RETIRED_STATUSES,
        rack=(device.get("rack") or {}).get("name") if isinstance(device.get("rack"), dict)
        else device.get("rack"),
        site=_name(device.get("site")),
        gpu_model=custom.get("gpu_model"),
        gpu_count=int(custom.get("gpu_count") or 0),
        data={
            "hardware": {"vendor": _name((device_type or {}).get("manufacturer")),
                         "model": device_type.get("model"), "serial": device.get("serial"),
                         "gpu": {"model": custom.get("gpu_model"),
                                 "count": int(custom.get("gpu_count") or 0)}},
            "os": {"name": _name(device.get("platform"))},
            "network": {"management_ip": ip},
            "ssh": {"address": ip, "port": int(custom.get("ssh_port") or 22),
                    "user": custom.get("ssh_user") or "root",
                    "host_key": custom.get("ssh_host_key")},
            "labels": {t["slug"]: "true" for t in device.get("tags") or [] if "slug" in t},
            "netbox": {"id": device["id"], "status": status_value,
                       "last_updated": device.get("last_updated")},
        },
    )


class TimeoutAdapter(HTTPAdapter):
    """Every request of the session with a (connect, read) deadline (M9): requests has no
    session-wide timeout, and pynetbox passes none, so a NetBox that accepts the connection
    and never answers would hold the sync forever."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (min(10.0, self.timeout_s), self.timeout_s)
        return super().send(request, **kwargs)


class NetBoxSource:
    name = "netbox"

    def __init__(self, url: str, token: str | None = None, page_size: int = 1000,
                 timeout_s: float = 30.0) -> None:
        self.api = pynetbox.api(url.rstrip("/"), token=token)
        adapter = TimeoutAdapter(timeout_s)
        self.api.http_session.mount("http://", adapter)
        self.api.http_session.mount("https://", adapter)
        self.page_size = page_size

    def pages(self, cursor: str | None) -> Iterator[SourcePage]:
        filters: dict[str, Any] = {"limit": self.page_size}
        if cursor:
            filters["last_updated__gte"] = cursor
        newest = cursor
        batch: list[SourceRecord] = []
        try:
            for device in self.api.dcim.devices.filter(**filters):
                raw = dict(device)
                batch.append(record_from_device(raw))
                updated = raw.get("last_updated")
                if updated and (newest is None or updated > newest):
                    newest = updated
                if len(batch) == self.page_size:
                    yield SourcePage(batch, cursor, True)  # cursor only moves at the end
                    batch = []
        except (pynetbox.RequestError, requests.RequestException) as exc:
            raise TemporaryError(f"NetBox unreachable: {type(exc).__name__}: {exc}", 30) from exc
        yield SourcePage(batch, newest, False)

    def close(self) -> None:
        self.api.http_session.close()
