"""The CMDB's records and their history, in memory: paging, the ``since`` cursor, changes.

Every change (add, change, retire) takes the next global revision number and stamps it
on the record. ``changes(since=R)`` returns records whose revision is above R in
revision order, so a client that remembers the ``next_since`` it was given sees every
change exactly once, including retirements (the record stays, marked ``retired``).
No I/O here; the HTTP layer is ``api.py``.
"""
from __future__ import annotations

import bisect
import copy
import threading
from datetime import UTC, datetime

from ..machines.facts import MachineFacts, facts_for, hostname_for
from ..machines.keys import fingerprint


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_id(index: int) -> str:
    return f"cmdb-{index:06d}"


def record_from_facts(facts: MachineFacts, ssh: dict | None = None) -> dict:
    """A CMDB record; ``ssh`` (address, port, host_key, bastion) for machines that run."""
    ssh = ssh or {}
    address = ssh.get("address") or facts.management_ip
    host_key = ssh.get("host_key")
    return {
        "id": record_id(facts.index),
        "hostname": facts.hostname,
        "status": "active",
        "idc": facts.idc,
        "rack": facts.rack,
        "rack_unit": facts.unit,
        "owner": {"team": facts.owner_team, "contact": facts.owner_contact},
        "environment": facts.environment,
        "hardware": facts.hardware(),
        "os": facts.os(),
        "network": {"management_ip": address, "data_ip": facts.data_ip, "bmc_ip": facts.bmc_ip},
        "ssh": {
            "address": address,
            "port": ssh.get("port", 22),
            "user": ssh.get("user", "root"),
            "host_key": host_key,
            "host_key_fingerprint": fingerprint(host_key) if host_key else None,
            "bastion": ssh.get("bastion"),
        },
        "labels": {},
    }


def _merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


class Inventory:
    def __init__(self, seed: int = 1):
        self.seed = seed
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        self._ids: list[str] = []  # sorted (ids are zero-padded and only grow)
        self._by_hostname: dict[str, str] = {}
        self._log: list[tuple[int, str]] = []  # (revision, id) in revision order; stale entries skipped
        self.revision = 0

    @classmethod
    def generate(cls, seed: int, size: int, running: list[dict]) -> Inventory:
        """``size`` records; the first ones are the running machines (``running``: dicts with
        name, index, address, port, host_key, bastion), the rest records only."""
        inv = cls(seed)
        by_index = {m["index"]: m for m in running}
        for index in range(1, max(size, len(running)) + 1):
            m = by_index.get(index)
            facts = facts_for(seed, index, m["name"] if m else hostname_for(index))
            inv._store(record_from_facts(facts, m and {
                "address": m["address"], "port": m["port"], "host_key": m["host_key"],
                "bastion": m.get("bastion_ssh")}))
        return inv

    # -- reading --------------------------------------------------------------------------
    def get(self, key: str) -> dict | None:
        with self._lock:
            rid = key if key in self._records else self._by_hostname.get(key)
            return copy.deepcopy(self._records[rid]) if rid else None

    def page(self, page: int, page_size: int, include_retired: bool = False) -> tuple[list[dict], int]:
        with self._lock:
            ids = [i for i in self._ids
                   if include_retired or self._records[i]["status"] != "retired"]
            start = (page - 1) * page_size
            return [copy.deepcopy(self._records[i]) for i in ids[start:start + page_size]], len(ids)

    def changes(self, since: int, limit: int) -> tuple[list[dict], int, bool]:
        """Records changed after revision ``since``: (items, next_since, has_more)."""
        with self._lock:
            pos = bisect.bisect_right(self._log, (since, "\uffff"))
            items: list[dict] = []
            next_since = since
            for rev, rid in self._log[pos:]:
                if self._records[rid]["revision"] != rev:
                    continue  # changed again later: it appears at its newest revision
                if len(items) == limit:
                    return items, next_since, True
                items.append(copy.deepcopy(self._records[rid]))
                next_since = rev
            return items, max(next_since, since) if items else max(since, self.revision), False

    # -- changing -------------------------------------------------------------------------
    def _store(self, record: dict) -> dict:
        self.revision += 1
        record["revision"] = self.revision
        record["updated_at"] = _now()
        rid = record["id"]
        if rid not in self._records:
            self._ids.append(rid)
        self._records[rid] = record
        self._by_hostname[record["hostname"]] = rid
        self._log.append((self.revision, rid))
        return copy.deepcopy(record)

    def add(self, fields: dict) -> dict:
        """A new machine: generated facts for the next index, overridden by ``fields``."""
        with self._lock:
            index = int(self._ids[-1].split("-")[1]) + 1 if self._ids else 1
            hostname = fields.get("hostname") or hostname_for(index)
            if hostname in self._by_hostname:
                raise ValueError(f"hostname {hostname!r} already exists")
            record = record_from_facts(facts_for(self.seed, index, hostname))
            _merge(record, {k: v for k, v in fields.items() if k not in ("id", "revision")})
            return self._store(record)

    def change(self, key: str, patch: dict) -> dict:
        with self._lock:
            rid = key if key in self._records else self._by_hostname.get(key)
            if rid is None:
                raise KeyError(key)
            record = copy.deepcopy(self._records[rid])
            old_hostname = record["hostname"]
            _merge(record, {k: v for k, v in patch.items() if k not in ("id", "revision")})
            if record["hostname"] != old_hostname:
                if record["hostname"] in self._by_hostname:
                    raise ValueError(f"hostname {record['hostname']!r} already exists")
                del self._by_hostname[old_hostname]
            return self._store(record)

    def retire(self, key: str) -> dict:
        return self.change(key, {"status": "retired"})

    def __len__(self) -> int:
        return len(self._records)
