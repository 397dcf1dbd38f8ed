"""The decisions of a CMDB sync, without I/O: given what the inventory holds for a page of
machines and what the CMDB now says, what to add, update, retire, and what to refuse.

Rules (issue 5, DESIGN P1):
* a new record becomes a machine in state ``available`` (a retired one, ``retired``);
* a record the CMDB retired (or that a full sync no longer sees) becomes ``retired`` —
  never deleted;
* a cluster member whose ``ip`` or ``hostname`` changed, or that the CMDB retired, is a
  *conflict*: those fields keep their current values and an event asks a human to look;
  everything else about the record is still applied;
* a record seen before with the same fingerprint is left alone (idempotent);
* a record whose hostname another machine holds (a duplicate in the CMDB, or two machines
  swapping hostnames), or whose id is another machine's hostname, is a conflict and is
  skipped (L5): the rest of the page is applied, instead of the whole page failing on the
  unique hostname on every sync."""
from __future__ import annotations

from dataclasses import dataclass, field

from autorke_inventory.domain.records import SourceRecord


@dataclass(frozen=True)
class Known:
    """What the inventory holds of a machine, as much as the sync needs."""

    id: str
    hostname: str
    ip: str | None
    state: str
    cluster: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class Conflict:
    machine: str
    hostname: str
    cluster: str | None
    field: str
    current: str | None
    incoming: str | None


@dataclass
class PagePlan:
    add: list[SourceRecord] = field(default_factory=list)
    update: list[tuple[Known, SourceRecord, list[str]]] = field(default_factory=list)
    retire: list[tuple[Known, SourceRecord | None]] = field(default_factory=list)
    unretire: list[Known] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    unchanged: int = 0


def changed_fields(known: Known, record: SourceRecord) -> list[str]:
    fields = []
    if known.hostname != record.hostname:
        fields.append("hostname")
    if known.ip != record.ip:
        fields.append("ip")
    if known.fingerprint != record.fingerprint:
        fields.append("cmdb")
    return fields


def plan_page(known: dict[str, Known], records: list[SourceRecord],
              hostnames: dict[str, str] | None = None) -> PagePlan:
    """``hostnames``: hostname -> machine id of the machines already holding the page's
    hostnames and ids (a record may take neither another's hostname nor be named like one)."""
    plan = PagePlan()
    holders = dict(hostnames or {})
    for record in records:
        current = known.get(record.id)
        clash = _clash(record, holders, current)
        if clash is not None:
            plan.conflicts.append(clash)
            continue
        if current is not None and current.hostname != record.hostname and holders.get(current.hostname) == record.id:
            del holders[current.hostname]  # its old name is free for a later record of the page
        holders[record.hostname] = record.id
        if current is None:
            plan.add.append(record)
            continue
        if current.fingerprint == record.fingerprint:
            plan.unchanged += 1
            continue
        fields = changed_fields(current, record)
        if current.cluster:
            for name in ("hostname", "ip"):
                if name in fields:
                    plan.conflicts.append(Conflict(current.id, current.hostname, current.cluster,
                                                   name, getattr(current, name),
                                                   getattr(record, name)))
            fields = [f for f in fields if f not in ("hostname", "ip")]
            if record.retired:
                plan.conflicts.append(Conflict(current.id, current.hostname, current.cluster,
                                               "status", current.state, "retired"))
        elif record.retired and current.state != "retired":
            plan.retire.append((current, record))
            continue
        if not record.retired and current.state == "retired":
            plan.unretire.append(current)
        plan.update.append((current, record, fields or ["cmdb"]))
    return plan


def _clash(record: SourceRecord, holders: dict[str, str], current: Known | None) -> Conflict | None:
    holder = holders.get(record.hostname)
    cluster = current.cluster if current else None
    if holder is not None and holder != record.id:
        return Conflict(record.id, current.hostname if current else record.hostname, cluster, "hostname",
                        current.hostname if current else None, f"{record.hostname} (held by {holder})")
    named = holders.get(record.id)
    if named is not None and named != record.id:
        return Conflict(record.id, record.hostname, cluster, "id", None,
                        f"{record.id} is the hostname of {named}")
    return None


def plan_missing(known_unseen: list[Known]) -> PagePlan:
    """After a full sync: machines the source no longer lists."""
    plan = PagePlan()
    for k in known_unseen:
        if k.state == "retired":
            continue
        if k.cluster:
            plan.conflicts.append(Conflict(k.id, k.hostname, k.cluster, "status", k.state,
                                           "missing from the CMDB"))
        else:
            plan.retire.append((k, None))
    return plan
