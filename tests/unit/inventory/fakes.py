"""In-memory stand-ins for the inventory's unit of work and repositories (the protocols of
``autorke_inventory.service_layer.unit_of_work``), for the handlers' unit tests.

A :class:`FakeUnitOfWork` works on a copy of its :class:`Store` while it is entered and
hands it back only on ``commit()``, so a refused handler leaves the store as it was, as a
rolled-back transaction would. Emitted envelopes are recorded (``store.outbox``, committed
ones only), and ``committed`` says whether a unit committed at all."""
from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, NamedTuple, Self

from autorke_common.envelope import Envelope
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
from autorke_inventory.adapters.repository import MachineQuery
from autorke_inventory.domain.records import natural_key
from autorke_inventory.domain.sync import Known
from fixtures.signing import signer


@dataclass
class State:
    machines: dict[str, MachineRow] = field(default_factory=dict)
    clusters: dict[str, ClusterRow] = field(default_factory=dict)
    memberships: dict[str, MembershipRow] = field(default_factory=dict)
    configs: list[ConfigVersionRow] = field(default_factory=list)
    documents: list[DocumentVersionRow] = field(default_factory=list)
    proposals: dict[str, ProposalRow] = field(default_factory=dict)
    jobs: dict[str, JobRow] = field(default_factory=dict)
    sync_cursors: dict[str, SyncCursorRow] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[Envelope] = field(default_factory=list)


@dataclass
class Store:
    """What is committed. ``concurrent``: memberships another transaction commits between a
    handler's check and its insert (machine id -> cluster), to play the P1 race."""

    state: State = field(default_factory=State)
    concurrent: dict[str, str] = field(default_factory=dict)

    @property
    def outbox(self) -> list[Envelope]:
        return self.state.outbox

    def events(self, type_: str | None = None) -> list[Envelope]:
        return [e for e in self.state.outbox if type_ is None or e.type == type_]


def _after(key: Any, ident: str, after: Cursor | None, descending: bool = False) -> bool:
    if after is None:
        return True
    if descending:
        return (key, ident) < (after.key, after.id)
    return (key, ident) > (after.key, after.id)


class MachineRow3(NamedTuple):
    machine: MachineRow
    membership: MembershipRow | None
    sort_value: Any


class FakeMachines:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, machine_id: str) -> MachineRow | None:
        return self.s.machines.get(machine_id)

    def find(self, key: str) -> MachineRow | None:
        return self.s.machines.get(key) or next(
            (m for m in self.s.machines.values() if m.hostname == key), None)

    def addresses(self, addresses: Iterable[str], hostnames: Iterable[str]
                  ) -> tuple[dict[str, str], dict[str, str]]:
        addresses, hostnames = set(addresses), set(hostnames)
        rows = [m for m in self.s.machines.values() if m.ip in addresses or m.hostname in hostnames]
        return {m.ip: m.id for m in rows if m.ip}, {m.hostname: m.id for m in rows}

    def page(self, f: MachineQuery, after: Cursor | None, limit: int) -> tuple[list[Any], int]:
        def member(m: MachineRow) -> MembershipRow | None:
            return self.s.memberships.get(m.id)

        def keep(m: MachineRow) -> bool:
            mem = member(m)
            return ((not f.cluster or (mem is not None and mem.cluster == f.cluster))
                    and (not f.state or m.state == f.state)
                    and (not f.role or (mem is not None and f.role in mem.roles))
                    and (not f.gpu_model or f.gpu_model.lower() in (m.gpu_model or "").lower())
                    and (not f.rack or m.rack == f.rack)
                    and (not f.q or f.q.lower() in m.search))

        name, desc = f.sort.lstrip("-"), f.sort.startswith("-")

        def key(m: MachineRow) -> Any:
            mem = member(m)
            value = (mem.cluster if mem else None) if name == "cluster" else \
                natural_key(m.hostname) if name == "hostname" else getattr(m, name)
            return value if value is not None else ""

        matching = [m for m in self.s.machines.values() if keep(m)]
        rows = sorted((m for m in matching if _after(key(m), m.id, after, desc)),
                      key=lambda m: (key(m), m.id), reverse=desc)
        return [MachineRow3(m, member(m), key(m)) for m in rows[: limit + 1]], len(matching)

    def state_counts(self, f: MachineQuery) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in {m.state for m in self.s.machines.values()}:
            n = self.page(replace(f, state=state), None, 0)[1]
            if n:
                counts[state] = n
        return counts

    def _known(self, m: MachineRow) -> Known:
        mem = self.s.memberships.get(m.id)
        return Known(m.id, m.hostname, m.ip, m.state, mem.cluster if mem else None, m.fingerprint)

    def known(self, ids: Sequence[str]) -> dict[str, Known]:
        return {i: self._known(self.s.machines[i]) for i in ids if i in self.s.machines}

    def hostname_holders(self, hostnames: Sequence[str]) -> dict[str, str]:
        return {m.hostname: m.id for m in self.s.machines.values() if m.hostname in set(hostnames)}

    def unseen(self, source: str, seen: set[str]) -> list[Known]:
        return [self._known(m) for m in self.s.machines.values()
                if m.source == source and m.state != "retired" and m.id not in seen]

    def insert_many(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self.s.machines[r["id"]] = MachineRow(**r)

    def update_many(self, rows: list[dict[str, Any]], now: datetime) -> None:
        for r in rows:
            m = self.s.machines[r["id"]]
            for k, v in r.items():
                setattr(m, k, v)
            m.version += 1
            m.updated_at = now

    def retire_many(self, ids: list[str], now: datetime) -> None:
        for i in ids:
            m = self.s.machines[i]
            m.state, m.version, m.updated_at = "retired", m.version + 1, now

    def set_conflicts(self, machine_id: str, conflicts: list[dict[str, Any]]) -> None:
        self.s.machines[machine_id].conflicts = conflicts


class FakeClusters:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, name: str) -> ClusterRow | None:
        return self.s.clusters.get(name)

    def add(self, row: ClusterRow) -> None:
        self.s.clusters[row.name] = row

    def page(self, after: Cursor | None, limit: int) -> list[ClusterRow]:
        rows = sorted(r for r in self.s.clusters if _after(r, r, after))
        return [self.s.clusters[n] for n in rows[: limit + 1]]

    def with_kubeconfig(self) -> list[str]:
        return sorted(n for n, r in self.s.clusters.items() if r.kubeconfig_sealed is not None)


class FakeMemberships:
    def __init__(self, state: State, concurrent: dict[str, str]) -> None:
        self.s = state
        self.concurrent = concurrent

    def get(self, machine_id: str) -> MembershipRow | None:
        return self.s.memberships.get(machine_id)

    def place(self, row: MembershipRow) -> str | None:
        """As the primary key does: a second membership of one machine is refused."""
        if row.machine_id in self.concurrent:  # committed by another transaction meanwhile
            return self.concurrent[row.machine_id]
        if row.machine_id in self.s.memberships:
            return self.s.memberships[row.machine_id].cluster
        self.s.memberships[row.machine_id] = row
        return None

    def remove(self, row: MembershipRow) -> None:
        del self.s.memberships[row.machine_id]

    def members(self, cluster: str, after: Cursor | None = None, limit: int | None = None
                ) -> list[tuple[MachineRow, MembershipRow]]:
        rows = sorted(((self.s.machines[m.machine_id], m) for m in self.s.memberships.values()
                       if m.cluster == cluster), key=lambda r: (r[0].hostname, r[0].id))
        if limit is None:
            return rows
        return [r for r in rows if _after(r[0].hostname, r[0].id, after)][: limit + 1]

    def count(self, cluster: str) -> int:
        return sum(1 for m in self.s.memberships.values() if m.cluster == cluster)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for m in self.s.memberships.values():
            out[m.cluster] = out.get(m.cluster, 0) + 1
        return out


class FakeConfigs:
    def __init__(self, state: State) -> None:
        self.s = state

    def _of(self, cluster: str, kind: str) -> list[ConfigVersionRow]:
        return sorted((r for r in self.s.configs if (r.cluster, r.kind) == (cluster, kind)),
                      key=lambda r: r.version)

    def latest_version(self, cluster: str, kind: str) -> int | None:
        rows = self._of(cluster, kind)
        return rows[-1].version if rows else None

    def add(self, row: ConfigVersionRow) -> None:
        if self.get(row.cluster, row.kind, row.version) is not None:
            raise AssertionError("uq_config_version: the version exists")
        self.s.configs.append(row)

    def get(self, cluster: str, kind: str, version: int) -> ConfigVersionRow | None:
        return next((r for r in self._of(cluster, kind) if r.version == version), None)

    def page(self, cluster: str, kind: str, after: Cursor | None, limit: int) -> list[ConfigVersionRow]:
        return [r for r in self._of(cluster, kind) if after is None or r.version > after.key][: limit + 1]


class FakeDocuments:
    def __init__(self, state: State) -> None:
        self.s = state

    def _of(self, cluster: str, kind: str, name: str | None = None) -> list[DocumentVersionRow]:
        return sorted((r for r in self.s.documents if (r.cluster, r.kind) == (cluster, kind)
                       and name in (None, r.name)), key=lambda r: (r.name, r.version))

    def latest(self, cluster: str, kind: str, name: str) -> DocumentVersionRow | None:
        rows = self._of(cluster, kind, name)
        return rows[-1] if rows else None

    def get(self, cluster: str, kind: str, name: str, version: int) -> DocumentVersionRow | None:
        return next((r for r in self._of(cluster, kind, name) if r.version == version), None)

    def add_once(self, row: DocumentVersionRow) -> bool:
        if self.get(row.cluster, row.kind, row.name, row.version) is not None:
            return False
        self.s.documents.append(row)
        return True

    def versions(self, cluster: str, kind: str, name: str, after: Cursor | None,
                 limit: int) -> list[DocumentVersionRow]:
        return [r for r in self._of(cluster, kind, name) if after is None or r.version > after.key][: limit + 1]

    def latest_each(self, cluster: str, kind: str, after: Cursor | None, limit: int) -> list[DocumentVersionRow]:
        newest = {r.name: r for r in self._of(cluster, kind)}  # in version order: the last one stays
        return [newest[n] for n in sorted(newest) if after is None or n > after.key][: limit + 1]


class FakeProposals:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, proposal_id: str) -> ProposalRow | None:
        return self.s.proposals.get(proposal_id)

    def add(self, row: ProposalRow) -> None:
        if row.change_id and any(p.change_id == row.change_id for p in self.s.proposals.values()):
            raise AssertionError("unique change_id")
        self.s.proposals[row.id] = row

    def remove(self, row: ProposalRow) -> None:
        del self.s.proposals[row.id]


class FakeJobs:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, job_id: str) -> JobRow | None:
        return self.s.jobs.get(job_id)

    def add(self, row: JobRow) -> None:
        self.s.jobs[row.job_id] = row

    def add_once(self, row: JobRow) -> bool:
        if row.job_id in self.s.jobs:
            return False
        self.s.jobs[row.job_id] = row
        return True

    def pending(self, cluster: str, purpose: str) -> list[JobRow]:
        return [j for j in self.s.jobs.values()
                if (j.cluster, j.purpose, j.status) == (cluster, purpose, "pending")]

    def latest(self, cluster: str, purposes: Sequence[str]) -> JobRow | None:
        rows = [j for j in self.s.jobs.values() if j.cluster == cluster and j.purpose in purposes]
        return max(rows, key=lambda j: j.created_at, default=None)


class FakeSyncCursors:
    def __init__(self, state: State) -> None:
        self.s = state

    def get(self, source: str) -> SyncCursorRow | None:
        return self.s.sync_cursors.get(source)

    def add(self, row: SyncCursorRow) -> None:
        self.s.sync_cursors[row.source] = row


class FakeUnitOfWork:
    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        self.committed = False
        self._work: State | None = None
        self.signer = signer("inventory")

    def __enter__(self) -> Self:
        self._open(copy.deepcopy(self.store.state))
        return self

    def _open(self, work: State) -> None:
        self._work = work
        self.machines = FakeMachines(work)
        self.clusters = FakeClusters(work)
        self.memberships = FakeMemberships(work, self.store.concurrent)
        self.configs = FakeConfigs(work)
        self.documents = FakeDocuments(work)
        self.proposals = FakeProposals(work)
        self.jobs = FakeJobs(work)
        self.sync_cursors = FakeSyncCursors(work)

    def __exit__(self, *exc: object) -> None:
        self._work = None  # what was not committed is gone

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None:
        self._work.outbox.append(envelope)

    def already_processed(self, consumer: str, message_id: str) -> bool:
        if (consumer, message_id) in self._work.processed:
            return True
        self._work.processed.add((consumer, message_id))
        return False

    def claim_large(self, value: str | None) -> str | None:
        return value  # the real one is tested against a database (test_claims.py)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """On an error inside, every row and collection is put back as it was (in place:
        the rows the handler holds stay the ones the unit holds, as with a session)."""
        work = self._work
        kept = {f.name: copy.copy(getattr(work, f.name)) for f in fields(State)}
        rows = [*work.machines.values(), *work.clusters.values(), *work.memberships.values(),
                *work.configs, *work.documents, *work.proposals.values(), *work.jobs.values(),
                *work.sync_cursors.values()]
        values = [(r, {k: copy.deepcopy(getattr(r, k)) for k in type(r).model_fields}) for r in rows]
        try:
            yield
        except BaseException:
            for name, collection in kept.items():
                setattr(work, name, collection)
            for row, was in values:
                for k, v in was.items():
                    setattr(row, k, v)
            raise

    def commit(self) -> None:
        self.store.state = self._work
        self._open(copy.deepcopy(self._work))
        self.committed = True


def factory(store: Store) -> tuple[list[FakeUnitOfWork], Any]:
    """``(units made, a unit-of-work factory on store)``."""
    made: list[FakeUnitOfWork] = []

    def make() -> FakeUnitOfWork:
        made.append(FakeUnitOfWork(store))
        return made[-1]

    return made, make
