"""H6: ``etcd.snapshot`` never replaces or removes a snapshot it did not make. The flow
through the handlers on an in-memory unit of work (``fakes.py``), the executor's answers
given by hand as its scripts give them (``result.snapshots`` of ``etcd_snapshot_list``,
``result.snapshot.created`` of ``etcd_snapshot``); the scripts themselves are tested on
lab machines (tests/integration/executor/test_etcd_snapshot_scripts.py)."""
from __future__ import annotations

from autorke_common.catalogue.executor import ExecutorRun
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Change, Endpoint
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers, views
from autorke_orchestrator.service_layer.commands import Actor, CancelChange, CreateChange, TakeResults

from .fakes import FakeUnitOfWork, State

OPERATOR = Actor("alice", frozenset({"operator"}))
ETCD = ("e1", "e2", "e3")


def platform() -> FakeUnitOfWork:
    """An RKE1 cluster ``c1`` with three etcd nodes and a worker."""
    state = State()
    nodes = {**{h: ["etcd"] for h in ETCD}, "w1": ["worker"]}
    state.clusters["c1"] = ClusterView("c1", "rke", "https://c1:6443", "sealed-kubeconfig", nodes=nodes)
    for i, (h, roles) in enumerate(nodes.items()):
        state.machines[h] = MachineView(f"id-{h}", h, "c1", roles, state="member")
        state.endpoints[h] = Endpoint(h, f"10.0.0.{i + 1}", 22, f"ssh-ed25519 AAAA{h}", "root")
    return FakeUnitOfWork(state)


def snapshot_change(uow: FakeUnitOfWork, name: str = "pre-upgrade-2024") -> Change:
    request = ChangeRequest("etcd.snapshot", "c1", [], {"snapshot_name": name})
    return handlers.create_change(CreateChange(request, OPERATOR), uow)


def runs(uow: FakeUnitOfWork, change_id: str) -> list[ExecutorRun]:
    return [ExecutorRun.model_validate(e.data) for e in uow.emitted
            if e.type == ExecutorRun.TYPE and e.correlation_id == change_id]


def report(uow: FakeUnitOfWork, run: ExecutorRun, **outcomes: Outcome) -> Change:
    handlers.take_results(TakeResults("orchestrator-executor", f"msg-{run.job_id}", run.job_id, outcomes), uow)
    return views.load_change(uow, run.change_id)


def listed(*names: str) -> Outcome:
    return Outcome("succeeded", result={"snapshots": list(names)})


def snapshot_job(uow: FakeUnitOfWork, change: Change) -> ExecutorRun:
    """The change's etcd_snapshot job, once every etcd node answered that the name is free."""
    sent = runs(uow, change.id)[-1]
    if sent.action == "etcd_snapshot_list":
        report(uow, sent, **{h: listed() for h in ETCD})
        sent = runs(uow, change.id)[-1]
    assert sent.action == "etcd_snapshot"
    return sent


def test_h6_an_existing_snapshot_name_is_refused_before_anything_runs():
    """A snapshot of the requested name on one etcd node (the known-good backup): the
    change lists every etcd node's snapshots first and is refused with ``snapshot-exists``;
    nothing that writes (a snapshot, a delete) is ever sent."""
    uow = platform()
    change = snapshot_change(uow)
    [first] = runs(uow, change.id)
    assert (first.action, sorted(t.host for t in first.targets)) == ("etcd_snapshot_list", list(ETCD))
    change = report(uow, first, e1=listed("nightly"), e2=listed("nightly", "pre-upgrade-2024"), e3=listed())
    assert change.status == "failed" and change.problem == "snapshot-exists", change.status
    assert change.step("name_free").targets["e2"].error_class == "snapshot-exists"
    assert [r.action for r in runs(uow, change.id)] == ["etcd_snapshot_list"], "nothing else was sent"
    assert change.closed and change.step("snapshot").status == "pending", "the snapshot step never started"


def test_h6_a_failed_snapshot_undo_keeps_an_existing_snapshot_of_that_name():
    """The name was free when checked; then e2's script found it taken (``created`` false:
    made meanwhile by someone else), e3 gave no answer, e1 made its file. Cancelled, the
    compensation runs on e1 (made it) and e3 (may have) only, with the change's id for the
    script's ownership check; e2's snapshot of that name is never sent a delete."""
    uow = platform()
    change = snapshot_change(uow)
    snap = snapshot_job(uow, change)
    assert snap.change_id == change.id
    made = {"name": "pre-upgrade-2024", "file": "/opt/rke/etcd-snapshots/pre-upgrade-2024.tar.gz"}
    change = report(uow, snap,
                    e1=Outcome("succeeded", result={"snapshot": {**made, "created": True}}),
                    e2=Outcome("failed", "snapshot name taken", "failed", {"snapshot": {**made, "created": False}}),
                    e3=Outcome("failed", "no end of command within 900 s", "timeout"))
    assert change.status == "partially_failed"

    handlers.cancel(CancelChange(change.id, OPERATOR), uow)
    undo = runs(uow, change.id)[-1]
    assert undo.action == "etcd_snapshot_delete" and undo.job_id == f"{change.id}:snapshot:undo:1"
    assert sorted(t.host for t in undo.targets) == ["e1", "e3"], "e2's snapshot is not this change's"
    assert undo.change_id == change.id and undo.params["args"] == ["pre-upgrade-2024"]
    change = report(uow, undo, e1=Outcome("succeeded"), e3=Outcome("succeeded"))
    assert change.status == "cancelled" and change.step("snapshot").status == "compensated"
    assert change.step("snapshot").targets["e2"].undo_status is None


def test_h6_a_snapshot_step_that_made_nothing_is_cancelled_without_any_delete():
    """Every node found the name taken: there is nothing of this change to remove, and no
    delete goes out at all (the compensation has no target); the change is cancelled."""
    uow = platform()
    change = snapshot_change(uow)
    snap = snapshot_job(uow, change)
    taken = Outcome("failed", "snapshot name taken", "failed", {"snapshot": {"created": False}})
    change = report(uow, snap, e1=taken, e2=taken, e3=taken)
    assert change.status == "failed"
    change = handlers.cancel(CancelChange(change.id, OPERATOR), uow)
    assert change.status == "cancelled" and change.step("snapshot").status == "compensated"
    assert [r.action for r in runs(uow, change.id)] == ["etcd_snapshot_list", "etcd_snapshot"]


def test_a_free_name_is_snapshotted_on_every_etcd_node_only():
    uow = platform()
    change = snapshot_change(uow)
    change = report(uow, runs(uow, change.id)[0], e1=listed("other"), e2=listed(), e3=listed())
    snap = runs(uow, change.id)[-1]
    assert sorted(t.host for t in snap.targets) == list(ETCD) and snap.params["args"] == ["pre-upgrade-2024"]
    ok = Outcome("succeeded", result={"snapshot": {"created": True}})
    assert report(uow, snap, e1=ok, e2=ok, e3=ok).status == "succeeded"
