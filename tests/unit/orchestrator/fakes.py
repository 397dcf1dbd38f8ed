"""In-memory stand-ins for the orchestrator's unit of work and its repositories (the ports of
``autorke_orchestrator.service_layer.unit_of_work``), so the handlers' decisions are tested
without a database or a bus.

Transactions are real enough to test refusals: entering the unit works on a copy of the
committed state; ``commit`` makes the copy the committed state and the emitted envelopes
``emitted``; leaving without a commit throws the copy (and what it emitted) away."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Self

from autorke_common import claims
from autorke_common.envelope import Envelope
from autorke_orchestrator.adapters.repository import StaleChange
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Change, Endpoint
from autorke_orchestrator.domain.node_specs import Document
from autorke_orchestrator.domain.orders import Order
from fixtures.signing import signer


@dataclass
class State:
    """Everything a unit of work can see and change."""

    changes: dict[str, Change] = field(default_factory=dict)
    jobs: dict[str, tuple[str, Order]] = field(default_factory=dict)
    machine_locks: dict[str, str] = field(default_factory=dict)
    cluster_locks: dict[str, str] = field(default_factory=dict)
    machines: dict[str, MachineView] = field(default_factory=dict)  # by host name
    endpoints: dict[str, Endpoint] = field(default_factory=dict)  # by host name
    clusters: dict[str, ClusterView] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    claims: dict[str, str] = field(default_factory=dict)
    #: (cluster, kind, name) -> the latest node profile or label mapping
    documents: dict[tuple[str, str, str], Document] = field(default_factory=dict)


class FakeChanges:
    def __init__(self, state: State) -> None:
        self.state = state

    def get(self, change_id: str) -> Change | None:
        change = self.state.changes.get(change_id)
        return copy.deepcopy(change) if change is not None else None

    def save(self, change: Change) -> None:
        stored = self.state.changes.get(change.id)
        if stored is not None and stored.version != change.version:
            raise StaleChange(change.id)
        change.version += 1
        kept = copy.deepcopy(change)
        kept.events = []  # transient: sent through the outbox, never stored
        self.state.changes[change.id] = kept

    def open_ids(self) -> list[str]:
        return [c.id for c in sorted(self.state.changes.values(), key=lambda c: c.created_at) if not c.closed]

    def page(self, status: str | None, cluster: str | None, limit: int, after: Any) -> list[Change]:
        rows = sorted(self.state.changes.values(), key=lambda c: (c.created_at, c.id), reverse=True)
        rows = [c for c in rows if (not status or c.status == status) and (not cluster or c.cluster == cluster)]
        if after is not None:
            rows = [c for c in rows if (c.created_at, c.id) < (after.key, after.id)]
        return rows[:limit + 1]


class FakeJobs:
    def __init__(self, state: State) -> None:
        self.state = state

    def record(self, change_id: str, order: Order) -> None:
        self.state.jobs.setdefault(order.job_id, (change_id, order))

    def hosts(self, job_id: str) -> list[str] | None:
        sent = self.state.jobs.get(job_id)
        return None if sent is None else list(sent[1].job.reported)


class FakeConfigLocks:
    def __init__(self, state: State) -> None:
        self.state = state

    def acquire(self, cluster: str, change_id: str, step_id: str) -> bool:
        holder = self.state.cluster_locks.setdefault(cluster, change_id)
        return holder == change_id

    def release(self, cluster: str, change_id: str) -> None:
        if self.state.cluster_locks.get(cluster) == change_id:
            del self.state.cluster_locks[cluster]


class FakeLocks:
    def __init__(self, state: State) -> None:
        self.state = state

    def _open(self, change_id: str) -> bool:
        change = self.state.changes.get(change_id)
        return change is not None and not change.closed

    def lock_machines(self, change_id: str, hosts: list[str], recovered: Any) -> dict[str, str]:
        held = {h: c for h in hosts if (c := self.state.machine_locks.get(h, change_id)) != change_id and self._open(c)}
        if not held:
            self.state.machine_locks.update({h: change_id for h in hosts})
        return held

    def release_machines(self, change_id: str) -> None:
        self.state.machine_locks = {h: c for h, c in self.state.machine_locks.items() if c != change_id}

    def machine_holders(self, hosts: list[str]) -> dict[str, str]:
        return {h: self.state.machine_locks[h] for h in hosts if h in self.state.machine_locks}

    def config(self, recovered: Any) -> FakeConfigLocks:
        return FakeConfigLocks(self.state)

    def release_config(self, cluster: str, change_id: str) -> None:
        FakeConfigLocks(self.state).release(cluster, change_id)


class FakeDirectory:
    def __init__(self, state: State) -> None:
        self.state = state

    def resolve(self, names: list[str]) -> tuple[dict[str, str], list[str]]:
        by_name = {**{m.id: h for h, m in self.state.machines.items()}, **{h: h for h in self.state.machines}}
        return {n: by_name[n] for n in names if n in by_name}, [n for n in names if n not in by_name]

    def machines(self, hostnames: list[str]) -> dict[str, MachineView]:
        return {h: self.state.machines[h] for h in hostnames if h in self.state.machines}

    def endpoints(self, hostnames: list[str]) -> dict[str, Endpoint]:
        return {h: self.state.endpoints[h] for h in hostnames if h in self.state.endpoints}

    def cluster(self, name: str | None) -> ClusterView | None:
        return self.state.clusters.get(name) if name else None

    def document(self, cluster: str, kind: str, name: str) -> Document | None:
        return self.state.documents.get((cluster, kind, name))

    def keep_document(self, cluster: str, kind: str, name: str, version: int, spec: dict[str, Any]) -> None:
        old = self.state.documents.get((cluster, kind, name))
        if old is None or old.version < version:
            self.state.documents[(cluster, kind, name)] = Document(name, version, spec)

    def keep_config(self, name: str, kind: str, version: int, sealed: str | None) -> None:
        if name in self.state.clusters and sealed:
            self.state.clusters[name].configs_sealed[kind] = sealed

    def upsert_machine(self, machine_id: str, hostname: str | None = None, **fields: Any) -> MachineView:
        host = hostname or machine_id
        machine = self.state.machines.setdefault(host, MachineView(machine_id, host))
        for k, v in fields.items():
            if hasattr(machine, k):
                setattr(machine, k, v)
        return machine

    def expect_state(self, hostnames: list[str], state: str) -> None:
        for host in hostnames:
            if host in self.state.machines:
                self.state.machines[host].state = state

    def upsert_cluster(self, name: str, **fields: Any) -> ClusterView:
        cluster = self.state.clusters.setdefault(name, ClusterView(name, fields.get("provider", "rke2")))
        for k, v in fields.items():
            if hasattr(cluster, k):
                setattr(cluster, k, v)
        return cluster


class FakeUnitOfWork:
    """The unit of work the handlers see, in memory: ``state`` is what was committed,
    ``emitted`` every envelope a committed unit wrote to the outbox, ``commits`` how many
    units committed."""

    def __init__(self, state: State | None = None) -> None:
        self.state = state or State()
        self.emitted: list[Envelope] = []
        self.commits = 0
        self.signer = signer("orchestrator")
        self._work: State | None = None
        self._outbox: list[Envelope] = []

    @property
    def committed(self) -> bool:
        return self.commits > 0

    def __enter__(self) -> Self:
        self._work, self._outbox = copy.deepcopy(self.state), []
        self.changes = FakeChanges(self._work)
        self.jobs = FakeJobs(self._work)
        self.locks = FakeLocks(self._work)
        self.directory = FakeDirectory(self._work)
        return self

    def __exit__(self, *exc: object) -> None:
        self._work, self._outbox = None, []

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None:
        self._outbox.append(envelope)

    def already_processed(self, consumer: str, message_id: str) -> bool:
        key = (consumer, message_id)
        seen = key in self._work.processed
        self._work.processed.add(key)
        return seen

    def claim(self, sealed: str) -> str:
        self._work.claims[claims.digest_of(sealed)] = sealed
        return claims.reference("orchestrator", claims.digest_of(sealed))

    def commit(self) -> None:
        self.state = copy.deepcopy(self._work)
        self.emitted += self._outbox
        self._outbox = []
        self.commits += 1

    # -- reading, for the tests ---------------------------------------------------------
    def types(self, change_id: str | None = None) -> list[str]:
        """The types of the envelopes committed (about ``change_id`` only, when given)."""
        return [e.type for e in self.emitted if change_id is None or e.correlation_id == change_id]
