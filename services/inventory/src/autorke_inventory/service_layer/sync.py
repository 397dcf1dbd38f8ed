"""CMDB sync: read the source page by page and apply each page in one unit of work — bulk
inserts and updates, the machine events, a progress event, and (incremental) the cursor —
so a sync that dies half-way keeps what it applied and resumes from there.

A full sync reads everything and then retires the machines the source no longer lists;
an incremental sync reads what changed after the stored cursor. Re-running either with
nothing changed changes nothing (records are compared by fingerprint). The decisions are
in :mod:`autorke_inventory.domain.sync`; this module only moves data: :func:`apply_page`
(one page, in the caller's unit of work) and :func:`retire_unseen` are the handlers,
:class:`SyncRunner` reads the source and gives each page its unit of work."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.exclusive import Hold, local_sections
from autorke_inventory.adapters.orm import SyncCursorRow
from autorke_inventory.adapters.sources import MachineSource
from autorke_inventory.domain.records import SourcePage, SourceRecord, label_facts, search_text
from autorke_inventory.domain.sync import PagePlan, plan_missing, plan_page
from autorke_inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)
SOURCE = "inventory"


@dataclass
class SyncSummary:
    sync_id: str
    source: str
    mode: str
    ok: bool = True
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    conflicts: int = 0
    cursor: str | None = None
    duration_s: float = 0.0
    error: str | None = None
    conflict_details: list[dict] = field(default_factory=list)

    def event(self) -> msg.SyncFinished:
        data = asdict(self)
        data.pop("conflict_details")
        return msg.SyncFinished(**data)


def ssh_access(r: SourceRecord) -> msg.SshAccess | None:
    """The record's SSH data as machine events carry it (None when the CMDB has none)."""
    raw = r.data.get("ssh")
    if not isinstance(raw, dict) or not (raw.get("address") or r.ip):
        return None
    bastion = raw.get("bastion")
    if isinstance(bastion, dict):
        bastion = {k: bastion[k] for k in ("hostname", "address", "port", "user", "host_key")
                   if bastion.get(k) not in (None, "")}
    return msg.SshAccess(address=raw.get("address") or r.ip, port=int(raw.get("port") or 22),
                         user=raw.get("user") or None, host_key=raw.get("host_key") or None,
                         bastion=bastion or None)


def _values(r: SourceRecord) -> dict:
    return {"rack": r.rack, "site": r.site, "gpu_model": r.gpu_model, "gpu_count": r.gpu_count,
            "search": search_text(r), "cmdb": r.data, "fingerprint": r.fingerprint}


#: how long an asked-for sync waits for one already running (the schedule's waits for none)
SYNC_WAIT_S = 600.0


class SyncRunner:
    """Runs syncs of one source, one at a time across every replica (``hold``: an exclusive
    section on the database; by default one within this process). A class because it holds
    that section across calls (the API's and the schedule's)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, source_factory: Callable[[], MachineSource],
                 hold: Hold | None = None) -> None:
        self.uow_factory = uow_factory
        self.source_factory = source_factory
        self._hold = hold or local_sections()

    def run(self, mode: str = "incremental", actor: str = "inventory",
            sync_id: str | None = None, wait_s: float = SYNC_WAIT_S) -> SyncSummary | None:
        """The sync's summary; None when another sync held the section for ``wait_s``
        (0 for the schedule: it skips a round instead of queueing behind another replica's)."""
        with self._hold("cmdb-sync", wait_s) as held:
            if not held:
                log.info("sync skipped: another sync of the CMDB is running")
                return None
            source = self.source_factory()
            try:
                return self._run(source, mode, actor, sync_id or str(uuid.uuid4()))
            finally:
                source.close()

    def _run(self, source: MachineSource, mode: str, actor: str, sync_id: str) -> SyncSummary:
        started = time.perf_counter()
        cursor = stored_cursor(self.uow_factory(), source.name)
        if mode != "full" and cursor is None:
            mode = "full"
        s = SyncSummary(sync_id, source.name, mode)
        emit_one(self.uow_factory(), msg.SyncStarted(sync_id=s.sync_id, source=source.name, mode=mode,
                                                     since=None if mode == "full" else cursor), s, actor)
        seen: set[str] = set()
        try:
            for page in source.pages(None if mode == "full" else cursor):
                seen.update(r.id for r in page.records)
                apply_page(self.uow_factory(), page, s, actor)
            if mode == "full":
                retire_unseen(self.uow_factory(), seen, s, actor)
        except Exception as exc:  # noqa: BLE001 - reported as a failed sync, then re-raised
            s.ok, s.error = False, f"{type(exc).__name__}: {exc}"[:500]
            log.warning("sync %s of %s failed: %s", s.sync_id, source.name, s.error)
        s.duration_s = round(time.perf_counter() - started, 3)
        emit_one(self.uow_factory(), s.event(), s, actor)
        log.info("sync %s (%s) of %s: seen=%d added=%d updated=%d retired=%d conflicts=%d in %.1fs",
                 s.sync_id, mode, source.name, s.seen, s.added, s.updated, s.retired,
                 s.conflicts, s.duration_s)
        return s


def stored_cursor(uow: UnitOfWork, source: str) -> str | None:
    with uow:
        row = uow.sync_cursors.get(source)
        return row.cursor if row else None


def apply_page(uow: UnitOfWork, page: SourcePage, s: SyncSummary, actor: str) -> None:
    """One page of the source in one unit of work: its plan applied, its events, a progress
    event and (incremental) the cursor — so a sync that dies later keeps this page."""
    with uow:
        records = page.records
        plan = plan_page(uow.machines.known([r.id for r in records]), records,
                         uow.machines.hostname_holders([r.hostname for r in records] + [r.id for r in records]))
        _apply(uow, plan, s, actor)
        s.seen += len(page.records)
        if s.mode == "incremental" or not page.more:
            s.cursor = page.cursor
        if s.mode == "incremental":
            _save_cursor(uow, s.source, page.cursor, full=False)
        uow.emit(_env(msg.SyncProgressed(
            sync_id=s.sync_id, seen=s.seen, added=s.added, updated=s.updated,
            retired=s.retired, conflicts=s.conflicts), s, actor))
        uow.commit()


def retire_unseen(uow: UnitOfWork, seen: set[str], s: SyncSummary, actor: str) -> None:
    """After a full read: the source's machines it no longer lists are retired (members are
    conflicts instead), and the cursor is stored."""
    with uow:
        _apply(uow, plan_missing(uow.machines.unseen(s.source, seen)), s, actor)
        _save_cursor(uow, s.source, s.cursor, full=True)
        uow.commit()


# -- writing ---------------------------------------------------------------------------
def _apply(uow: UnitOfWork, plan: PagePlan, s: SyncSummary, actor: str) -> None:
    now = utcnow()
    _add(uow, plan, s, actor, now)
    conflicts: dict[str, list[dict]] = {}
    for c in plan.conflicts:
        conflicts.setdefault(c.machine, []).append({**asdict(c), "detected_at": now.isoformat()})
    _update(uow, plan, conflicts, s, actor, now)
    _retire(uow, plan, s, actor, now)
    updated = {k.id for k, _, _ in plan.update}
    for machine, found in conflicts.items():
        if machine not in updated and uow.machines.get(machine) is not None:  # e.g. a member missing
            uow.machines.set_conflicts(machine, found)  # from a full read (a skipped new record has no row)
    for c in plan.conflicts:
        uow.emit(_env(msg.MachineConflictDetected(**asdict(c)), s, actor), aggregate=c.machine)
        s.conflict_details.append(asdict(c))
    s.added += len(plan.add)
    s.updated += len(plan.update)
    s.unchanged += plan.unchanged
    s.retired += len(plan.retire)
    s.conflicts += len(plan.conflicts)


def _add(uow: UnitOfWork, plan: PagePlan, s: SyncSummary, actor: str, now: datetime) -> None:
    uow.machines.insert_many([
        {"id": r.id, "source": s.source, "hostname": r.hostname, "ip": r.ip,
         "state": "retired" if r.retired else "available", "facts": None,
         "facts_at": None, "conflicts": None, "version": 1, "created_at": now,
         "updated_at": now, **_values(r)} for r in plan.add])
    for r in plan.add:
        uow.emit(_env(msg.MachineAdded(
            machine=r.id, hostname=r.hostname, ip=r.ip, rack=r.rack,
            state="retired" if r.retired else "available", ssh=ssh_access(r), facts=label_facts(r)), s, actor),
            aggregate=r.id)


def _update(uow: UnitOfWork, plan: PagePlan, conflicts: dict[str, list[dict]], s: SyncSummary,
            actor: str, now: datetime) -> None:
    unretire = {k.id for k in plan.unretire}
    rows = []
    for known, r, fields in plan.update:
        row = {"id": known.id,
               "hostname": r.hostname if "hostname" in fields else known.hostname,
               "ip": r.ip if "ip" in fields else known.ip,
               "state": "available" if known.id in unretire else known.state,
               "conflicts": conflicts.get(known.id), **_values(r)}
        rows.append(row)
        uow.emit(_env(msg.MachineUpdated(machine=known.id, hostname=row["hostname"], ip=row["ip"],
                                         fields=fields, ssh=ssh_access(r), facts=label_facts(r)), s, actor),
                 aggregate=known.id)
    uow.machines.update_many(rows, now)


def _retire(uow: UnitOfWork, plan: PagePlan, s: SyncSummary, actor: str, now: datetime) -> None:
    uow.machines.retire_many([k.id for k, _ in plan.retire], now)
    for k, record in plan.retire:
        reason = "retired in the CMDB" if record else "missing from the CMDB"
        uow.emit(_env(msg.MachineRetired(machine=k.id, hostname=k.hostname, reason=reason), s, actor),
                 aggregate=k.id)


def _save_cursor(uow: UnitOfWork, source: str, cursor: str | None, full: bool) -> None:
    row = uow.sync_cursors.get(source) or SyncCursorRow(source=source)
    row.cursor = cursor
    row.last_sync_at = utcnow()
    if full:
        row.last_full_at = row.last_sync_at
    uow.sync_cursors.add(row)


def _env(event: msg.Event, s: SyncSummary, actor: str) -> Envelope:
    return Envelope.of(event, source=SOURCE, correlation_id=s.sync_id, actor=actor)


def emit_one(uow: UnitOfWork, event: msg.Event, s: SyncSummary, actor: str) -> None:
    with uow:
        uow.emit(_env(event, s, actor), aggregate=s.sync_id)
        uow.commit()
