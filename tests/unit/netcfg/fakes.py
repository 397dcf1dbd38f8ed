"""In-memory stand-ins for netcfg's own ports, so its handlers' decisions are tested without
a database, a cluster or VCalico (cosmicpython's ``FakeUnitOfWork``):

* :class:`FakeUnitOfWork`: the repositories over dicts of rows. Each ``with`` works on a
  copy of what was committed; :meth:`commit` keeps it (and the envelopes emitted), leaving
  the block without committing throws it away, as a rolled-back transaction would.
* :class:`FakeCluster`: one cluster's API (``adapters.kube.ClusterApi``): Calico objects by
  plural and name, and nodes; every write is logged in ``writes``.
* :class:`FakeTicketSystem`: VCalico's submit, answering ``VC-1``, ``VC-2``, …
"""
from __future__ import annotations

import copy
from typing import Any, ClassVar, Self

from autorke_common.envelope import Envelope
from autorke_netcfg.adapters.kube import ClusterConflict, ClusterUnreachable
from autorke_netcfg.adapters.orm import CallbackRow, ClusterRow, PoolChangeRow, PoolRow, TicketRow
from autorke_netcfg.adapters.vcalico import Submission, VCalicoUnavailable
from autorke_netcfg.service_layer.ports import Ports

Row = ClusterRow | PoolRow | TicketRow | CallbackRow | PoolChangeRow


def _copy(row: Row) -> Row:
    return type(row)(**copy.deepcopy(row.model_dump()))


def _after(key: tuple[Any, str], after: Any, descending: bool = False) -> bool:
    if after is None:
        return True
    mark = (after.key, after.id)
    return key < mark if descending else key > mark


class _Rows:
    def __init__(self, rows: dict[Any, Any]) -> None:
        self.rows = rows


class FakeClusters(_Rows):
    def get(self, name: str) -> ClusterRow | None:
        return self.rows.get(name)

    def add(self, row: ClusterRow) -> None:
        self.rows[row.name] = row

    def with_kubeconfig(self) -> list[ClusterRow]:
        return [r for _, r in sorted(self.rows.items()) if r.kubeconfig_sealed]

    def page(self, limit: int, after: Any) -> list[ClusterRow]:
        rows = [r for _, r in sorted(self.rows.items()) if _after((r.name, r.name), after)]
        return rows[:limit + 1]


class FakePools(_Rows):
    def get(self, cluster: str, name: str) -> PoolRow | None:
        return self.rows.get((cluster, name))

    def locked(self, cluster: str, name: str) -> PoolRow | None:
        return self.rows.get((cluster, name))

    def of_cluster(self, cluster: str, locked: bool = False) -> list[PoolRow]:
        return [r for (c, _), r in sorted(self.rows.items()) if c == cluster]

    def add(self, row: PoolRow) -> None:
        self.rows[(row.cluster, row.name)] = row

    def delete(self, row: PoolRow) -> None:
        self.rows.pop((row.cluster, row.name), None)


class FakePoolChanges(_Rows):
    def get(self, change_id: str) -> PoolChangeRow | None:
        return self.rows.get(change_id)

    def of_cluster(self, cluster: str) -> list[PoolChangeRow]:
        return sorted((r for r in self.rows.values() if r.cluster == cluster), key=lambda r: r.created_at)

    def add(self, row: PoolChangeRow) -> None:
        self.rows[row.change_id] = row

    def delete(self, row: PoolChangeRow) -> None:
        self.rows.pop(row.change_id, None)


class FakeTickets(_Rows):
    def get(self, ticket_id: str) -> TicketRow | None:
        return self.rows.get(ticket_id)

    def locked(self, ticket_id: str) -> TicketRow | None:
        return self.rows.get(ticket_id)

    def add(self, row: TicketRow) -> None:
        self.rows[row.id] = row

    def id_for_vcalico(self, vcalico_ticket_id: str) -> str | None:
        return next((t.id for t in self.rows.values() if t.vcalico_ticket_id == vcalico_ticket_id), None)

    def submitted_before(self, deadline: Any) -> list[str]:
        return [t.id for t in self.rows.values()
                if t.status == "submitted" and t.submitted_at is not None and t.submitted_at < deadline]

    def page(self, limit: int, after: Any, cluster: str | None = None,
             status: str | None = None) -> list[TicketRow]:
        rows = sorted(self.rows.values(), key=lambda t: (t.created_at, t.id), reverse=True)
        rows = [t for t in rows if (not cluster or t.cluster == cluster) and (not status or t.status == status)
                and _after((t.created_at, t.id), after, descending=True)]
        return rows[:limit + 1]


class FakeCallbacks(_Rows):
    def get(self, event_id: str) -> CallbackRow | None:
        return self.rows.get(event_id)

    def add(self, row: CallbackRow) -> None:
        self.rows[row.event_id] = row

    def serialize(self, vcalico_ticket_id: str) -> None:
        """One thread runs the fakes' units: nothing to serialize."""

    def held(self, vcalico_ticket_id: str) -> list[CallbackRow]:
        return sorted((r for r in self.rows.values() if r.ticket_id == vcalico_ticket_id and r.outcome == "held"),
                      key=lambda r: r.received_at)


class FakeUnitOfWork:
    """Rows committed so far in ``store``; envelopes committed in ``events``; ``committed``
    once any unit committed."""

    REPOSITORIES: ClassVar[dict[str, type[_Rows]]] = {
        "clusters": FakeClusters, "pools": FakePools, "tickets": FakeTickets, "callbacks": FakeCallbacks,
        "pool_changes": FakePoolChanges}

    def __init__(self) -> None:
        self.store: dict[str, dict[Any, Any]] = {kind: {} for kind in self.REPOSITORIES}
        self.processed: set[tuple[str, str]] = set()
        self.events: list[Envelope] = []
        self.committed = False
        self._work: dict[str, dict[Any, Any]] = {}
        self._emitted: list[Envelope] = []
        self._processed: set[tuple[str, str]] = set()

    def seed(self, *rows: Row) -> None:
        """Rows that were there before the test (committed, but no commit counted)."""
        for row in rows:
            kind = {ClusterRow: "clusters", PoolRow: "pools", TicketRow: "tickets", CallbackRow: "callbacks",
                    PoolChangeRow: "pool_changes"}[type(row)]
            repo = self.REPOSITORIES[kind](self.store[kind])
            repo.add(_copy(row))  # type: ignore[attr-defined]

    def row(self, kind: str, key: Any) -> Any:
        """What is committed now under ``key``."""
        return self.store[kind].get(key)

    def __enter__(self) -> Self:
        self._work = {kind: {k: _copy(r) for k, r in rows.items()} for kind, rows in self.store.items()}
        self._emitted, self._processed = [], set(self.processed)
        for kind, repo in self.REPOSITORIES.items():
            setattr(self, kind, repo(self._work[kind]))
        return self

    def __exit__(self, *exc: object) -> None:
        self._work, self._emitted = {}, []

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None:
        self._emitted.append(envelope)

    def already_processed(self, consumer: str, message_id: str) -> bool:
        if (consumer, message_id) in self._processed:
            return True
        self._processed.add((consumer, message_id))
        return False

    def commit(self) -> None:
        self.store = {kind: {k: _copy(r) for k, r in rows.items()} for kind, rows in self._work.items()}
        self.processed = set(self._processed)
        self.events += self._emitted
        self._emitted = []
        self.committed = True

    def event_types(self) -> list[str]:
        return [e.type for e in self.events]


class FakeCluster:
    """One cluster's API in memory. ``fail`` maps a method name to the error it raises."""

    def __init__(self, nodes: dict[str, tuple[str, str]] | None = None) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.node_objects: dict[str, dict[str, Any]] = {}
        for name, (ip, rack) in (nodes or {}).items():
            self.add_node(name, ip, rack)
        self.writes: list[tuple[str, str, str]] = []
        self.fail: dict[str, Exception] = {}

    def add_node(self, name: str, ip: str, rack: str) -> None:
        self.node_objects[name] = {"metadata": {"name": name, "labels": {"rack": rack}, "annotations": {}},
                                   "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}

    def put(self, plural: str, name: str, spec: dict[str, Any]) -> None:
        """An object made behind netcfg's back (or before the test)."""
        self.objects[(plural, name)] = {"metadata": {"name": name, "labels": {}}, "spec": dict(spec)}

    def _maybe_fail(self, method: str) -> None:
        if method in self.fail:
            raise self.fail[method]

    def list(self, plural: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        """The objects of ``plural``; ``label_selector``: one ``key=value`` only."""
        self._maybe_fail("list")
        key, _, value = (label_selector or "").partition("=")
        return [copy.deepcopy(o) for (p, _), o in sorted(self.objects.items())
                if p == plural and (not key or (o["metadata"].get("labels") or {}).get(key) == value)]

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        obj = self.objects.get((plural, name))
        return copy.deepcopy(obj) if obj is not None else None

    def create(self, plural: str, kind: str, name: str, spec: dict[str, Any],
               labels: dict[str, str] | None = None) -> dict[str, Any]:
        self._maybe_fail("create")
        if (plural, name) in self.objects:
            raise ClusterConflict(409, "AlreadyExists")
        self.objects[(plural, name)] = {"kind": kind, "metadata": {"name": name, "labels": dict(labels or {})},
                                        "spec": dict(spec)}
        self.writes.append(("create", plural, name))
        return copy.deepcopy(self.objects[(plural, name)])

    def replace_spec(self, plural: str, current: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail("replace_spec")
        name = current["metadata"]["name"]   # a replace writes the labels it is given, as the API does
        self.objects[(plural, name)]["metadata"]["labels"] = dict(current["metadata"].get("labels") or {})
        self.objects[(plural, name)]["spec"] = dict(spec)
        self.writes.append(("replace", plural, name))
        return copy.deepcopy(self.objects[(plural, name)])

    def upsert(self, plural: str, kind: str, name: str, spec: dict[str, Any],
               labels: dict[str, str] | None = None) -> tuple[dict[str, Any], dict | None]:
        self._maybe_fail("upsert")
        before = self.get(plural, name)
        if before is None:
            return self.create(plural, kind, name, spec, labels), None
        merged = {**before["metadata"], "labels": {**(before["metadata"].get("labels") or {}), **(labels or {})}}
        return self.replace_spec(plural, {**before, "metadata": merged}, spec), before

    def delete(self, plural: str, name: str) -> None:
        self._maybe_fail("delete")
        if self.objects.pop((plural, name), None) is not None:
            self.writes.append(("delete", plural, name))

    def nodes(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(n) for n in self.node_objects.values()]

    def node(self, name: str) -> dict[str, Any] | None:
        node = self.node_objects.get(name)
        return copy.deepcopy(node) if node is not None else None

    def patch_node_metadata(self, name: str, labels: dict[str, str | None],
                            annotations: dict[str, str | None]) -> None:
        meta = self.node_objects[name]["metadata"]
        for part, changes in (("labels", labels), ("annotations", annotations)):
            for key, value in changes.items():
                if value is None:
                    meta[part].pop(key, None)
                else:
                    meta[part][key] = value
        self.writes.append(("patch", "nodes", name))


class FakeClusters:
    """``adapters.kube.KubeClusters``: the fake API of each cluster by name."""

    def __init__(self, **clusters: FakeCluster) -> None:
        self.clusters = clusters

    def for_cluster(self, name: str, kubeconfig_sealed: str | None) -> FakeCluster:
        if not kubeconfig_sealed or name not in self.clusters:
            raise ClusterUnreachable(f"cluster {name} has no kubeconfig on record")
        return self.clusters[name]

    def close(self) -> None:
        pass


class FakeTicketSystem:
    """VCalico: every submission answered with the next ``VC-<n>``, or ``down``."""

    def __init__(self) -> None:
        self.submitted: list[tuple[dict[str, Any], str]] = []
        self.down = False

    def submit(self, body: dict[str, Any], idempotency_key: str) -> Submission:
        if self.down:
            raise VCalicoUnavailable("VCalico answered 503 after 3 attempts", 3)
        self.submitted.append((body, idempotency_key))
        return Submission(f"VC-{len(self.submitted)}", 1)


class FakeChanges:
    """The orchestrator's change API: each change created is kept and answered as
    ``chg-<n>``, requested by ``requested_by``; ``refuse`` (an exception) is raised instead."""

    def __init__(self, requested_by: str = "operator") -> None:
        self.created: list[dict[str, Any]] = []
        self.requested_by = requested_by
        self.refuse: Exception | None = None

    def create(self, *, type: str, cluster: str | None, params: dict[str, Any],
               targets: list[str] | None = None, authorization: str | None = None) -> dict[str, Any]:
        if self.refuse is not None:
            raise self.refuse
        change = {"id": f"chg-{len(self.created) + 1}", "type": type, "cluster": cluster, "params": params,
                  "status": "running", "requested_by": self.requested_by}
        self.created.append({**change, "authorization": authorization})
        return change


def ports(uow: FakeUnitOfWork, clusters: FakeClusters, vcalico: FakeTicketSystem | None = None,
          secret: str | None = "s3cret", callback_timeout_s: float = 3600.0,
          changes: FakeChanges | None = None) -> Ports:
    def one_unit() -> FakeUnitOfWork:   # the same fake, entered once per transaction
        return uow

    return Ports(uow=one_unit, kube=clusters, vcalico=vcalico, callback_secret=lambda: secret,
                 callback_timeout_s=callback_timeout_s, changes=changes)
