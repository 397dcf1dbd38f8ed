"""CMDB sync: read the source page by page and apply each page in one unit of work — bulk
inserts and updates, the machine events, a progress event, and (incremental) the cursor —
so a sync that dies half-way keeps what it applied and resumes from there.

A full sync reads everything and then retires the machines the source no longer lists;
an incremental sync reads what changed after the stored cursor. Re-running either with
nothing changed changes nothing (records are compared by fingerprint). The decisions are
in :mod:`autorke_inventory.domain.sync`; this module only moves data."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sqlalchemy import bindparam, insert, select, update

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.outbox import Database, UnitOfWork

from autorke_inventory.adapters.orm import MachineRow, MembershipRow, SyncCursorRow
from autorke_inventory.adapters.sources import MachineSource
from autorke_inventory.domain.records import SourceRecord
from autorke_inventory.domain.sync import Known, PagePlan, plan_missing, plan_page

log = logging.getLogger(__name__)
M = MachineRow.__table__
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


def search_text(r: SourceRecord) -> str:
    owner = (r.data.get("owner") or {}).get("team")
    parts = [r.id, r.hostname, r.ip, r.rack, r.site, r.gpu_model, r.data.get("environment"), owner]
    return " ".join(str(p) for p in parts if p).lower()[:600]


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


class SyncRunner:
    """Runs syncs of one source, one at a time per process."""

    def __init__(self, db: Database, source_factory: Callable[[], MachineSource]) -> None:
        self.db = db
        self.source_factory = source_factory
        self._lock = threading.Lock()

    def run(self, mode: str = "incremental", actor: str = "inventory",
            sync_id: str | None = None) -> SyncSummary:
        with self._lock:
            source = self.source_factory()
            try:
                return self._run(source, mode, actor, sync_id or str(uuid.uuid4()))
            finally:
                source.close()

    def _cursor(self, name: str) -> str | None:
        with self.db.unit_of_work() as uow:
            row = uow.session.get(SyncCursorRow, name)
            return row.cursor if row else None

    def _run(self, source: MachineSource, mode: str, actor: str, sync_id: str) -> SyncSummary:
        started = time.perf_counter()
        cursor = self._cursor(source.name)
        if mode != "full" and cursor is None:
            mode = "full"
        s = SyncSummary(sync_id, source.name, mode)
        self._emit_one(msg.SyncStarted(sync_id=s.sync_id, source=source.name, mode=mode,
                                       since=None if mode == "full" else cursor), s, actor)
        seen: set[str] = set()
        try:
            for page in source.pages(None if mode == "full" else cursor):
                with self.db.unit_of_work() as uow:
                    ids = [r.id for r in page.records]
                    seen.update(ids)
                    plan = plan_page(self._known(uow, ids), page.records)
                    self._apply(uow, plan, s, source.name, actor)
                    s.seen += len(page.records)
                    if mode == "incremental" or not page.more:
                        s.cursor = page.cursor
                    if mode == "incremental":
                        self._save_cursor(uow, source.name, page.cursor, full=False)
                    uow.emit(self._env(msg.SyncProgressed(
                        sync_id=s.sync_id, seen=s.seen, added=s.added, updated=s.updated,
                        retired=s.retired, conflicts=s.conflicts), s, actor))
                    uow.commit()
            if mode == "full":
                with self.db.unit_of_work() as uow:
                    self._apply(uow, plan_missing(self._unseen(uow, source.name, seen)), s,
                                source.name, actor)
                    self._save_cursor(uow, source.name, s.cursor, full=True)
                    uow.commit()
        except Exception as exc:  # noqa: BLE001 - reported as a failed sync, then re-raised
            s.ok, s.error = False, f"{type(exc).__name__}: {exc}"[:500]
            log.warning("sync %s of %s failed: %s", s.sync_id, source.name, s.error)
        s.duration_s = round(time.perf_counter() - started, 3)
        self._emit_one(s.event(), s, actor)
        log.info("sync %s (%s) of %s: seen=%d added=%d updated=%d retired=%d conflicts=%d in %.1fs",
                 s.sync_id, mode, source.name, s.seen, s.added, s.updated, s.retired,
                 s.conflicts, s.duration_s)
        return s

    # -- reading -------------------------------------------------------------------------
    def _known(self, uow: UnitOfWork, ids: list[str]) -> dict[str, Known]:
        if not ids:
            return {}
        mem = MembershipRow.__table__
        rows = uow.session.execute(
            select(M.c.id, M.c.hostname, M.c.ip, M.c.state, M.c.fingerprint, mem.c.cluster)
            .select_from(M.outerjoin(mem, mem.c.machine_id == M.c.id)).where(M.c.id.in_(ids)))
        return {r.id: Known(r.id, r.hostname, r.ip, r.state, r.cluster, r.fingerprint) for r in rows}

    def _unseen(self, uow: UnitOfWork, source: str, seen: set[str]) -> list[Known]:
        mem = MembershipRow.__table__
        rows = uow.session.execute(
            select(M.c.id, M.c.hostname, M.c.ip, M.c.state, M.c.fingerprint, mem.c.cluster)
            .select_from(M.outerjoin(mem, mem.c.machine_id == M.c.id))
            .where(M.c.source == source, M.c.state != "retired"))
        return [Known(r.id, r.hostname, r.ip, r.state, r.cluster, r.fingerprint)
                for r in rows if r.id not in seen]

    # -- writing -------------------------------------------------------------------------
    def _apply(self, uow: UnitOfWork, plan: PagePlan, s: SyncSummary, source: str,
               actor: str) -> None:
        now = utcnow()
        session = uow.session
        if plan.add:
            session.execute(insert(M), [
                {"id": r.id, "source": source, "hostname": r.hostname, "ip": r.ip,
                 "state": "retired" if r.retired else "available", "facts": None,
                 "facts_at": None, "conflicts": None, "version": 1, "created_at": now,
                 "updated_at": now, **_values(r)} for r in plan.add])
            for r in plan.add:
                uow.emit(self._env(msg.MachineAdded(
                    machine=r.id, hostname=r.hostname, ip=r.ip, rack=r.rack,
                    state="retired" if r.retired else "available", ssh=ssh_access(r)), s, actor),
                    aggregate=r.id)
        conflicts_by_machine: dict[str, list[dict]] = {}
        for c in plan.conflicts:
            conflicts_by_machine.setdefault(c.machine, []).append(
                {**asdict(c), "detected_at": now.isoformat()})
        if plan.update:
            unretire = {k.id for k in plan.unretire}
            stmt = (update(M).where(M.c.id == bindparam("_id"))
                    .values(hostname=bindparam("_hostname"), ip=bindparam("_ip"),
                            state=bindparam("_state"), rack=bindparam("_rack"),
                            site=bindparam("_site"), gpu_model=bindparam("_gpu_model"),
                            gpu_count=bindparam("_gpu_count"), search=bindparam("_search"),
                            cmdb=bindparam("_cmdb"), fingerprint=bindparam("_fingerprint"),
                            conflicts=bindparam("_conflicts"), version=M.c.version + 1,
                            updated_at=now))
            params = []
            for known, r, fields in plan.update:
                values = _values(r)
                params.append({
                    "_id": known.id,
                    "_hostname": r.hostname if "hostname" in fields else known.hostname,
                    "_ip": r.ip if "ip" in fields else known.ip,
                    "_state": "available" if known.id in unretire else known.state,
                    "_conflicts": conflicts_by_machine.get(known.id),
                    **{f"_{k}": v for k, v in values.items()}})
                uow.emit(self._env(msg.MachineUpdated(
                    machine=known.id, hostname=params[-1]["_hostname"], ip=params[-1]["_ip"],
                    fields=fields, ssh=ssh_access(r)), s, actor), aggregate=known.id)
            session.execute(stmt, params)
        if plan.retire:
            session.execute(update(M).where(M.c.id == bindparam("_id"))
                            .values(state="retired", version=M.c.version + 1, updated_at=now),
                            [{"_id": k.id} for k, _ in plan.retire])
            for k, record in plan.retire:
                reason = "retired in the CMDB" if record else "missing from the CMDB"
                uow.emit(self._env(msg.MachineRetired(machine=k.id, hostname=k.hostname,
                                                      reason=reason), s, actor), aggregate=k.id)
        update_ids = {k.id for k, _, _ in plan.update}
        for machine, found in conflicts_by_machine.items():
            if machine not in update_ids:  # e.g. a member missing from a full read
                session.execute(update(M).where(M.c.id == machine).values(conflicts=found))
        for c in plan.conflicts:
            uow.emit(self._env(msg.MachineConflictDetected(**asdict(c)), s, actor),
                     aggregate=c.machine)
            s.conflict_details.append(asdict(c))
        s.added += len(plan.add)
        s.updated += len(plan.update)
        s.unchanged += plan.unchanged
        s.retired += len(plan.retire)
        s.conflicts += len(plan.conflicts)

    def _save_cursor(self, uow: UnitOfWork, source: str, cursor: str | None, full: bool) -> None:
        row = uow.session.get(SyncCursorRow, source) or SyncCursorRow(source=source)
        row.cursor = cursor
        row.last_sync_at = utcnow()
        if full:
            row.last_full_at = row.last_sync_at
        uow.session.add(row)

    def _env(self, event: msg.Event, s: SyncSummary, actor: str) -> Envelope:
        return Envelope.of(event, source=SOURCE, correlation_id=s.sync_id, actor=actor)

    def _emit_one(self, event: msg.Event, s: SyncSummary, actor: str) -> None:
        with self.db.unit_of_work() as uow:
            uow.emit(self._env(event, s, actor), aggregate=s.sync_id)
            uow.commit()
