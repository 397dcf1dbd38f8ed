"""A machine as a CMDB describes it, whatever the CMDB: the shape every source adapter
(HTTP/JSON CMDB, NetBox) produces and the sync consumes."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from autorke_common.node_profiles import MachineFacts


@dataclass(frozen=True)
class SourceRecord:
    id: str  # stable id in the inventory, e.g. "cmdb-000001" or "netbox-17"
    hostname: str
    ip: str | None
    retired: bool
    rack: str | None = None
    site: str | None = None
    gpu_model: str | None = None
    gpu_count: int = 0
    data: dict[str, Any] = field(default_factory=dict)  # hardware, os, network, ssh, owner, labels

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything the inventory keeps of the record changes."""
        blob = json.dumps([self.hostname, self.ip, self.retired, self.rack, self.site,
                           self.gpu_model, self.gpu_count, self.data], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


#: The free-text search column's size (the Machines page searches substrings of it).
SEARCH_CHARS = 600
NATURAL_KEY_CHARS = 400
_DIGITS = re.compile(r"[0-9]+")


def search_text(r: SourceRecord) -> str:
    """What the Machines page's free-text search finds a machine by: its names and
    addresses, place, owner, and the OS, vendor, CPU and GPU models (substrings of any)."""
    d = r.data
    hw, os_ = d.get("hardware") or {}, d.get("os") or {}
    cpu = hw.get("cpu") if isinstance(hw.get("cpu"), dict) else {}
    parts = [r.id, r.hostname, r.ip, r.rack, r.site, r.gpu_model, d.get("environment"),
             (d.get("owner") or {}).get("team"), os_.get("name"), os_.get("id"), os_.get("version"),
             hw.get("vendor"), hw.get("model"), cpu.get("model")]
    return " ".join(str(p) for p in parts if p).lower()[:SEARCH_CHARS]


def natural_key(hostname: str) -> str:
    """The hostname as it sorts for a person: each run of digits by its value (``m2`` before
    ``m10``), written as its length (two digits) and the digits without leading zeros, so
    plain text order of the keys is the natural order of the names."""
    def number(m: re.Match[str]) -> str:
        digits = m.group().lstrip("0") or "0"
        return f"{len(digits):02d}{digits}"
    return _DIGITS.sub(number, hostname.lower())[:NATURAL_KEY_CHARS]


@dataclass(frozen=True)
class SourcePage:
    records: list[SourceRecord]
    cursor: str | None  # where the next incremental sync starts, once this page is applied
    more: bool


class Placed(Protocol):
    """Where a machine stands and what GPUs it has: a :class:`SourceRecord` or a machine row."""

    rack: str | None
    site: str | None
    gpu_model: str | None
    gpu_count: int


def label_facts(machine: Placed) -> MachineFacts:
    """What node labels can come from, as the machine events carry it (the CMDB's IDC is
    the inventory's ``site``)."""
    return MachineFacts(rack=machine.rack, idc=machine.site, gpu_model=machine.gpu_model,
                        gpu_count=machine.gpu_count or 0)
