"""A machine as a CMDB describes it, whatever the CMDB: the shape every source adapter
(HTTP/JSON CMDB, NetBox) produces and the sync consumes."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class SourcePage:
    records: list[SourceRecord]
    cursor: str | None  # where the next incremental sync starts, once this page is applied
    more: bool
