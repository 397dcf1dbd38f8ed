"""Refusals before anything is touched, each with its own problem type (DESIGN.md):
P1 machine of another cluster, P2 Kubernetes components (known, and found by the live
probe), P4 core role through node.add and admin-only node.add_core, self-approval, and
the machine lock."""
from __future__ import annotations

from sqlalchemy import func, select

from autorke_common.catalogue.orchestrator import ChangeFinished
from autorke_orchestrator.adapters.orm import ChangeRow, MachineLockRow

from .conftest import Orchestrator


def slug(r) -> str:
    return r.json()["type"].rsplit("/", 1)[-1]


def changes_stored(o: Orchestrator) -> int:
    with o.db().unit_of_work() as uow:
        return uow.session.execute(select(func.count()).select_from(ChangeRow)).scalar()


def test_p1_machine_of_another_cluster_is_refused(orch: Orchestrator):
    o = orch
    r = o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f001", f"{o.tag}c002"], params={"role": "worker"})
    assert r.status_code == 409 and slug(r) == "machine-in-other-cluster", r.text
    assert r.json()["hosts"] == [f"{o.tag}c002"]
    assert changes_stored(o) == 0 and o.driver.runs() == []


def test_p2_machine_with_k8s_components_refused_for_init(orch: Orchestrator):
    o = orch
    known = o.create(type="machine.init", targets=[f"{o.tag}f008"])
    assert known.status_code == 409 and slug(known) == "machine-has-k8s-components", known.text
    member = o.create(type="machine.init", targets=[f"{o.tag}a002"])
    assert member.status_code == 409 and slug(member) == "machine-has-k8s-components"
    assert changes_stored(o) == 0

    # Not known to the inventory: the live probe finds it, and nothing is initialised.
    r = o.create(type="machine.init", targets=[f"{o.tag}f006", f"{o.tag}f007"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    probe = o.driver.wait_run(cid, "probe")
    o.driver.finish(probe, results={f"{o.tag}f007": {"components": ["containerd:kubelet", "/var/lib/etcd"]}})
    failed = o.wait_status(cid, "failed")
    assert failed["problem"]["slug"] == "machine-has-k8s-components" and not failed["open"]
    assert f"{o.tag}f007" in failed["problem"]["detail"]
    assert [r.action for r in o.driver.runs(cid)] == ["probe"], "nothing but the probe ran"
    o.driver.wait(lambda: ChangeFinished.TYPE in o.driver.event_types(cid))
    with o.db().unit_of_work() as uow:
        assert uow.session.execute(select(MachineLockRow)).scalars().all() == [], "locks released"


def test_p4_etcd_role_through_node_add_is_refused(orch: Orchestrator):
    o = orch
    r = o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f001"], params={"role": "etcd"})
    assert r.status_code == 422 and slug(r) == "role-not-allowed", r.text
    r = o.create(type="node.add", cluster=o.rke1, targets=[f"{o.tag}f001"],
                 params={"roles": ["worker", "controlplane"]})
    assert slug(r) == "role-not-allowed"
    assert changes_stored(o) == 0


def test_p4_node_add_core_needs_an_admin_approval(orch: Orchestrator):
    o = orch
    r = o.create(type="node.add_core", cluster=o.rke1, targets=[f"{o.tag}f002"], params={"roles": ["etcd"]})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    waiting = o.wait_status(cid, "awaiting_approval")
    assert "'admin'" in waiting["waiting_for"]
    denied = o.approve(cid, user="approver")
    assert denied.status_code == 403 and slug(denied) == "forbidden"
    assert o.approve(cid, user="admin").status_code == 200
    assert o.driver.wait_run(cid, "init").action == "init"


def test_self_approval_is_refused_even_for_an_admin_requester(orch: Orchestrator):
    o = orch
    r = o.create(user="admin", type="node.add", cluster=o.rke2, targets=[f"{o.tag}f003"], params={"role": "worker"})
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    selfie = o.approve(cid, user="admin")
    assert selfie.status_code == 403 and slug(selfie) == "self-approval"
    assert o.get(cid)["status"] == "awaiting_approval" and o.get(cid)["approvals"] == []


def test_machine_locked_by_open_change_and_lock_of_dead_change_recovered(orch: Orchestrator):
    o = orch
    first = o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f004"], params={"role": "worker"})
    assert first.status_code == 201
    second = o.create(type="machine.init", targets=[f"{o.tag}f004", f"{o.tag}f005"])
    assert second.status_code == 409 and slug(second) == "machine-locked", second.text
    assert first.json()["id"] in second.text

    # A lock left behind by a change that is no longer open is taken back, not leaked.
    with o.db().unit_of_work() as uow:
        uow.session.get(ChangeRow, first.json()["id"]).closed = True
        uow.commit()
    third = o.create(type="machine.init", targets=[f"{o.tag}f004"])
    assert third.status_code == 201, third.text
    o.driver.wait(lambda: "orchestrator.lock.recovered" in o.driver.event_types(third.json()["id"]))


def test_bad_input_is_a_problem_and_changes_nothing(orch: Orchestrator):
    o = orch
    assert slug(o.create(type="node.explode", cluster=o.rke2, targets=[])) == "unknown-change-type"
    assert slug(o.create(type="node.add", cluster="nope", targets=[f"{o.tag}f001"])) == "not-found"
    assert slug(o.create(type="node.add", cluster=o.rke2, targets=["ghost"])) == "not-found"
    assert o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f001"], surprise=1).status_code == 422
    assert o.client.post("/api/v1/changes", json={"type": "node.add"}).status_code == 401
    assert changes_stored(o) == 0
