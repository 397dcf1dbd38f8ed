"""The inventory's repositories: every query the service layer needs, over the unit of
work's session (``uow.machines``, ``uow.clusters``, ``uow.memberships``, ``uow.configs``,
``uow.documents``, ``uow.proposals``, ``uow.jobs``, ``uow.sync_cursors``). The service layer
sees rows and plain values, never SQL; the interfaces it relies on are the protocols in
:mod:`autorke_inventory.service_layer.unit_of_work`.

Lists are keyset pages (:func:`autorke_common.db.keyset`): ``after`` is the
:class:`~autorke_common.rest.Cursor` of the previous page's last row (or None), and one row
more than ``limit`` is read, so the caller knows whether a next page exists."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autorke_common.db import add_once, keyset, savepoint
from autorke_common.rest import Cursor
from autorke_inventory.adapters.orm import (
    ClusterRow,
    ConfigVersionRow,
    DocumentVersionRow,
    JobRow,
    MachineRow,
    MembershipRow,
    ProposalRow,
    SyncCursorRow,
)
from autorke_inventory.domain.records import natural_key
from autorke_inventory.domain.sync import Known

M = MachineRow.__table__
MEM = MembershipRow.__table__
#: The machine list's sort orders (a leading '-' reverses one).
MACHINE_SORTS = {"hostname": M.c.hostname_key, "ip": M.c.ip, "rack": M.c.rack, "state": M.c.state,
                 "gpu_model": M.c.gpu_model, "cluster": MEM.c.cluster}
#: Up to this many free-text matches, a page is picked from the matches themselves.
FEW_MATCHES = 1000
#: The columns a sync writes from a CMDB record (besides hostname, ip, state, conflicts).
CMDB_COLUMNS = ("rack", "site", "gpu_model", "gpu_count", "search", "cmdb", "fingerprint")


@dataclass(frozen=True)
class MachineQuery:
    """What the Machines page asks for (already checked by the service layer)."""

    cluster: str | None = None
    state: str | None = None
    role: str | None = None
    gpu_model: str | None = None
    rack: str | None = None
    q: str | None = None
    sort: str = "hostname"


def _conditions(f: MachineQuery) -> list[Any]:
    """The WHERE of the Machines page's filters (the free text included)."""
    conditions = []
    if f.cluster:
        conditions.append(MEM.c.cluster == f.cluster)
    if f.state:
        conditions.append(M.c.state == f.state)
    if f.role:
        conditions.append(MEM.c.roles.like(f"%{f.role}%"))
    if f.gpu_model:  # a part of the model is enough: "H800" finds "NVIDIA H800"
        conditions.append(func.lower(M.c.gpu_model).like(_pattern(f.gpu_model), escape="\\"))
    if f.rack:
        conditions.append(M.c.rack == f.rack)
    pattern = _pattern(f.q)
    if pattern is not None:
        conditions.append(M.c.search.like(pattern, escape="\\"))
    return conditions


def _pattern(q: str | None) -> str | None:
    """A LIKE pattern finding ``q`` anywhere in the search text (its wildcards escaped)."""
    if not q:
        return None
    needle = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{needle}%"


class MachineRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, machine_id: str) -> MachineRow | None:
        return self.session.get(MachineRow, machine_id)

    def find(self, key: str) -> MachineRow | None:
        """A machine by id or hostname (DESIGN.md: hostname is accepted wherever a machine
        is named)."""
        row = self.session.get(MachineRow, key)
        if row is None:
            row = self.session.scalars(select(MachineRow).where(MachineRow.hostname == key)).first()
        return row

    def addresses(self, addresses: Iterable[str], hostnames: Iterable[str]
                  ) -> tuple[dict[str, str], dict[str, str]]:
        """``(ip -> machine id, hostname -> machine id)`` of the machines with one of these
        IPs or hostnames (to match a cluster's nodes to machines)."""
        rows = self.session.execute(select(MachineRow.id, MachineRow.hostname, MachineRow.ip).where(
            or_(MachineRow.ip.in_(set(addresses)), MachineRow.hostname.in_(set(hostnames))))).all()
        return {r.ip: r.id for r in rows if r.ip}, {r.hostname: r.id for r in rows}

    # -- the Machines page ---------------------------------------------------------------
    def page(self, f: MachineQuery, after: Cursor | None, limit: int) -> tuple[list[Any], int]:
        """(up to ``limit + 1`` rows of (MachineRow, MembershipRow | None, sort_value), the
        number of machines matching ``f``)."""
        desc = f.sort.startswith("-")
        sort_column = MACHINE_SORTS[f.sort.lstrip("-")]
        # A NOT NULL column sorts as itself, so its index gives the order and a page reads 51
        # rows; a nullable one sorts as '' for NULL, which no index serves (all matches sorted).
        column = sort_column if _never_null(sort_column) else func.coalesce(sort_column, "")
        conditions = _conditions(f)
        pattern = _pattern(f.q)
        joined = M.outerjoin(MEM, MEM.c.machine_id == M.c.id)
        # A machine has at most one membership (its primary key), so the join never changes the
        # count; it is needed only to filter on it (counting 10,000 rows through it is 10x slower).
        counted = joined if f.cluster or f.role else M
        total = int(self.session.execute(select(func.count()).select_from(counted).where(*conditions))
                    .scalar() or 0)
        page = list(conditions)
        if pattern is not None and total <= FEW_MATCHES:
            # Few matches (a hostname, an IP): find them in the (search, id) index and sort
            # those, rather than walk the sort order through every row until a page is full.
            matching = M.alias("matching")
            page.append(M.c.id.in_(select(matching.c.id).where(matching.c.search.like(pattern, escape="\\"))))
        stmt = (select(MachineRow, MembershipRow, column.label("sort_value")).select_from(joined)
                .where(*page))
        return list(self.session.execute(keyset(stmt, column, M.c.id, after, limit, descending=desc)).all()), total

    def state_counts(self, f: MachineQuery) -> dict[str, int]:
        """state -> how many machines match ``f`` in that state, whatever ``f.state`` says
        (the page's state chips: how many a click on each would list)."""
        conditions = _conditions(replace(f, state=None))
        source = M.outerjoin(MEM, MEM.c.machine_id == M.c.id) if f.cluster or f.role else M
        rows = self.session.execute(select(M.c.state, func.count()).select_from(source).where(*conditions)
                                    .group_by(M.c.state))
        return {state: int(n) for state, n in rows}

    # -- the CMDB sync -------------------------------------------------------------------
    def known(self, ids: Sequence[str]) -> dict[str, Known]:
        """What the sync needs to know of these machines (those that exist)."""
        if not ids:
            return {}
        rows = self.session.execute(_known().where(M.c.id.in_(ids)))
        return {r.id: _as_known(r) for r in rows}

    def hostname_holders(self, hostnames: Sequence[str]) -> dict[str, str]:
        """hostname -> machine id of the machines holding one of these hostnames."""
        if not hostnames:
            return {}
        rows = self.session.execute(select(M.c.hostname, M.c.id).where(M.c.hostname.in_(set(hostnames))))
        return {r.hostname: r.id for r in rows}

    def unseen(self, source: str, seen: set[str]) -> list[Known]:
        """Machines of ``source``, not retired, whose id is not in ``seen``."""
        rows = self.session.execute(_known().where(M.c.source == source, M.c.state != "retired"))
        return [_as_known(r) for r in rows if r.id not in seen]

    def insert_many(self, rows: list[dict[str, Any]]) -> None:
        """New machines, in one bulk insert (each dict names every column)."""
        if rows:
            self.session.execute(insert(M), [{**r, "hostname_key": natural_key(r["hostname"])} for r in rows])

    def update_many(self, rows: list[dict[str, Any]], now: datetime) -> None:
        """Machines updated from the CMDB in one bulk update: each dict has ``id``,
        ``hostname``, ``ip``, ``state``, ``conflicts`` and the :data:`CMDB_COLUMNS`; the
        version goes up by one."""
        if not rows:
            return
        names = ("hostname", "hostname_key", "ip", "state", "conflicts", *CMDB_COLUMNS)
        stmt = (update(M).where(M.c.id == bindparam("_id"))
                .values(**{n: bindparam(f"_{n}") for n in names}, version=M.c.version + 1, updated_at=now))
        self.session.execute(stmt, [{f"_{k}": v for k, v in {**r, "hostname_key": natural_key(r["hostname"])}.items()}
                                    for r in rows])

    def retire_many(self, ids: list[str], now: datetime) -> None:
        if ids:
            self.session.execute(update(M).where(M.c.id == bindparam("_id"))
                                 .values(state="retired", version=M.c.version + 1, updated_at=now),
                                 [{"_id": i} for i in ids])

    def set_conflicts(self, machine_id: str, conflicts: list[dict[str, Any]]) -> None:
        self.session.execute(update(M).where(M.c.id == machine_id).values(conflicts=conflicts))


def _known():
    return (select(M.c.id, M.c.hostname, M.c.ip, M.c.state, M.c.fingerprint, MEM.c.cluster)
            .select_from(M.outerjoin(MEM, MEM.c.machine_id == M.c.id)))


def _as_known(r: Any) -> Known:
    return Known(r.id, r.hostname, r.ip, r.state, r.cluster, r.fingerprint)


def _never_null(column: Any) -> bool:
    """A column of ``machines`` that can hold no NULL (a membership column can: the outer
    join gives a machine outside every cluster none)."""
    return column.table is M and not column.nullable


class ClusterRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> ClusterRow | None:
        return self.session.get(ClusterRow, name)

    def add(self, row: ClusterRow) -> None:
        self.session.add(row)
        self.session.flush()

    def page(self, after: Cursor | None, limit: int) -> list[ClusterRow]:
        """Clusters by name (the name is the key)."""
        return list(self.session.scalars(keyset(select(ClusterRow), ClusterRow.name, ClusterRow.name,
                                                after, limit)))

    def with_kubeconfig(self) -> list[str]:
        """Names of the clusters whose API the executor can reach (a kubeconfig is known)."""
        return list(self.session.scalars(select(ClusterRow.name).where(
            ClusterRow.kubeconfig_sealed.is_not(None)).order_by(ClusterRow.name)))


class MembershipRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, machine_id: str) -> MembershipRow | None:
        return self.session.get(MembershipRow, machine_id)

    def place(self, row: MembershipRow) -> str | None:
        """Insert a new membership; None when it is in, else the cluster of the membership
        that won (the primary key is the P1 guarantee: of two concurrent placements of one
        machine, the database lets one commit). A savepoint keeps the transaction usable
        after a refusal."""
        try:
            with savepoint(self.session):
                self.session.add(row)
        except IntegrityError:
            winner = self.session.get(MembershipRow, row.machine_id)
            return winner.cluster if winner else "another"
        return None

    def remove(self, row: MembershipRow) -> None:
        self.session.delete(row)
        self.session.flush()

    def members(self, cluster: str, after: Cursor | None = None, limit: int | None = None
                ) -> list[tuple[MachineRow, MembershipRow]]:
        """(machine, membership) of the cluster's members by hostname: all of them, or a
        keyset page (``limit``; cursor key hostname, id the machine's id)."""
        stmt = (select(MachineRow, MembershipRow)
                .join(MembershipRow, MembershipRow.machine_id == MachineRow.id)
                .where(MembershipRow.cluster == cluster))
        if limit is None:
            stmt = stmt.order_by(MachineRow.hostname, MachineRow.id)
        else:
            stmt = keyset(stmt, MachineRow.hostname, MachineRow.id, after, limit)
        return [(m, mem) for m, mem in self.session.execute(stmt).all()]

    def count(self, cluster: str) -> int:
        return int(self.session.execute(select(func.count()).select_from(MembershipRow)
                                        .where(MembershipRow.cluster == cluster)).scalar() or 0)

    def counts(self) -> dict[str, int]:
        """Members of every cluster in one query (the cluster list is on every Machines page)."""
        rows = self.session.execute(select(MembershipRow.cluster, func.count())
                                    .group_by(MembershipRow.cluster)).all()
        return {cluster: int(n) for cluster, n in rows}


class ConfigRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest_version(self, cluster: str, kind: str) -> int | None:
        return self.session.execute(select(func.max(ConfigVersionRow.version)).where(
            ConfigVersionRow.cluster == cluster, ConfigVersionRow.kind == kind)).scalar()

    def add(self, row: ConfigVersionRow) -> None:
        """Store a version now: the (cluster, kind, version) key refuses a concurrent duplicate."""
        self.session.add(row)
        self.session.flush()

    def get(self, cluster: str, kind: str, version: int) -> ConfigVersionRow | None:
        return self.session.scalars(select(ConfigVersionRow).where(
            ConfigVersionRow.cluster == cluster, ConfigVersionRow.kind == kind,
            ConfigVersionRow.version == version)).first()

    def page(self, cluster: str, kind: str, after: Cursor | None, limit: int) -> list[ConfigVersionRow]:
        """Versions of one kind, oldest first (cursor key: the version number)."""
        stmt = select(ConfigVersionRow).where(ConfigVersionRow.cluster == cluster,
                                              ConfigVersionRow.kind == kind)
        # the version is unique within (cluster, kind), so the kind — the same on every row
        # here — serves as the tie-breaker keyset wants
        return list(self.session.scalars(keyset(stmt, ConfigVersionRow.version, ConfigVersionRow.kind,
                                                after, limit)))


D = DocumentVersionRow.__table__


class DocumentRepository:
    """Versions of the clusters' node documents (node profiles, the label mapping)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, cluster: str, kind: str, name: str) -> DocumentVersionRow | None:
        return self.session.scalars(select(DocumentVersionRow).where(
            D.c.cluster == cluster, D.c.kind == kind, D.c.name == name)
            .order_by(D.c.version.desc()).limit(1)).first()

    def get(self, cluster: str, kind: str, name: str, version: int) -> DocumentVersionRow | None:
        return self.session.scalars(select(DocumentVersionRow).where(
            D.c.cluster == cluster, D.c.kind == kind, D.c.name == name, D.c.version == version)).first()

    def add_once(self, row: DocumentVersionRow) -> bool:
        """Store a version now; False, and nothing written, when another writer stored that
        version first (the (cluster, kind, name, version) key)."""
        return add_once(self.session, row)

    def versions(self, cluster: str, kind: str, name: str, after: Cursor | None,
                 limit: int) -> list[DocumentVersionRow]:
        """One document's versions, oldest first (cursor key: the version number; the name,
        the same on every row here, is the tie-breaker keyset wants)."""
        stmt = select(DocumentVersionRow).where(D.c.cluster == cluster, D.c.kind == kind, D.c.name == name)
        return list(self.session.scalars(keyset(stmt, D.c.version, D.c.name, after, limit)))

    def latest_each(self, cluster: str, kind: str, after: Cursor | None, limit: int
                    ) -> list[DocumentVersionRow]:
        """The latest version of each document of ``kind``, by name (cursor key: the name)."""
        newest = (select(D.c.name, func.max(D.c.version).label("version"))
                  .where(D.c.cluster == cluster, D.c.kind == kind).group_by(D.c.name).subquery())
        stmt = (select(DocumentVersionRow)
                .join(newest, (D.c.name == newest.c.name) & (D.c.version == newest.c.version))
                .where(D.c.cluster == cluster, D.c.kind == kind))
        return list(self.session.scalars(keyset(stmt, D.c.name, D.c.name, after, limit)))


class ProposalRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, proposal_id: str) -> ProposalRow | None:
        return self.session.get(ProposalRow, proposal_id)

    def add(self, row: ProposalRow) -> None:
        self.session.add(row)
        self.session.flush()

    def remove(self, row: ProposalRow) -> None:
        self.session.delete(row)


class JobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, job_id: str) -> JobRow | None:
        return self.session.get(JobRow, job_id)

    def add(self, row: JobRow) -> None:
        self.session.add(row)

    def add_once(self, row: JobRow) -> bool:
        """Insert a job whose id may have been asked for already (another replica, an earlier
        delivery): False, and nothing written, when it was."""
        return add_once(self.session, row)

    def pending(self, cluster: str, purpose: str) -> list[JobRow]:
        return list(self.session.scalars(select(JobRow).where(
            JobRow.cluster == cluster, JobRow.purpose == purpose, JobRow.status == "pending")))

    def latest(self, cluster: str, purposes: Sequence[str]) -> JobRow | None:
        return self.session.scalars(select(JobRow).where(JobRow.cluster == cluster,
                                                         JobRow.purpose.in_(tuple(purposes)))
                                    .order_by(JobRow.created_at.desc()).limit(1)).first()


class SyncCursorRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, source: str) -> SyncCursorRow | None:
        return self.session.get(SyncCursorRow, source)

    def add(self, row: SyncCursorRow) -> None:
        self.session.add(row)
