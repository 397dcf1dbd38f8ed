"""P10 and compensation: one of five targets fails; retry re-runs that one only; cancel on
another change runs the compensations in reverse order; continue drops the failed target."""
from __future__ import annotations

from .conftest import Orchestrator


def to_join(o: Orchestrator, targets: list[str]) -> str:
    r = o.create(type="node.add", cluster=o.rke2, targets=targets, params={"role": "worker", "labels": {"a": "b"}})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    assert o.approve(cid).status_code == 200
    o.driver.finish(o.driver.wait_run(cid, "init"))
    return cid


def test_p10_one_of_five_fails_retry_runs_that_one_only(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f00{i}" for i in range(1, 6)]
    cid = to_join(o, targets)
    join1 = o.driver.wait_run(cid, "join")
    assert len(join1.targets) == 5
    o.driver.finish(join1, failed={targets[2]: "rke2-agent did not start"})
    c = o.wait_status(cid, "partially_failed")
    join = next(s for s in c["plan"]["steps"] if s["id"] == "join")
    assert join["targets"][targets[2]]["status"] == "failed" and join["targets"][targets[0]]["status"] == "succeeded"
    assert "continue, retry or cancel" in c["waiting_for"]

    wrong = o.client.post(f"/api/v1/changes/{cid}:retry", json={"targets": [targets[0]]}, headers=o.headers("operator"))
    assert wrong.status_code == 409 and wrong.json()["type"].endswith("/target-not-failed")
    r = o.client.post(f"/api/v1/changes/{cid}:retry", headers=o.headers("operator"))
    assert r.status_code == 200, r.text
    join2 = o.driver.wait_run(cid, "join", attempt=2)
    assert [t.host for t in join2.targets] == [targets[2]] and join2.job_id == f"{cid}:join:2"
    o.driver.finish(join2)
    o.driver.finish(o.driver.wait_run(cid, "wait_ready"))
    labels = o.driver.wait_run(cid, "label")
    assert sorted(labels.params["nodes"]) == sorted(targets), "after the retry every target goes on"
    assert len([r for r in o.driver.runs(cid) if r.action == "join"]) == 2


def test_cancel_compensates_in_reverse_order(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f006", f"{o.tag}f007"]
    cid = to_join(o, targets)
    o.driver.finish(o.driver.wait_run(cid, "join"))
    o.driver.finish(o.driver.wait_run(cid, "wait_ready"))
    o.driver.finish(o.driver.wait_run(cid, "label"), failed={targets[1]: "api said no"})
    o.wait_status(cid, "partially_failed")
    r = o.client.post(f"/api/v1/changes/{cid}:cancel", headers=o.headers("operator"))
    assert r.status_code == 200 and r.json()["status"] == "compensating", r.text
    undo_labels = o.driver.wait_run(cid, "label", n=2)
    assert undo_labels.job_id == f"{cid}:labels:undo:1"
    assert undo_labels.params["node_labels"] == {h: {"a": None} for h in targets}, "each node's own labels"
    o.driver.finish(undo_labels)
    unjoin = o.driver.wait_run(cid, "remove")
    assert unjoin.kind == "rke2" and unjoin.job_id == f"{cid}:join:undo:1"
    o.driver.finish(unjoin)
    delete = o.driver.wait_run(cid, "delete_node")  # the agent gone, its Node object goes
    assert delete.kind == "kube" and delete.job_id == f"{cid}:join:undo:2"
    assert delete.params["nodes"] == targets
    o.driver.finish(delete)
    cleanup = o.driver.wait_run(cid, "cleanup")
    assert cleanup.job_id == f"{cid}:init:undo:1"
    o.driver.finish(cleanup)
    done = o.wait_status(cid, "cancelled")
    order = [r.job_id.split(":")[1] for r in o.driver.runs(cid) if ":undo:" in r.job_id]
    assert order == ["labels", "join", "join", "init"], "compensations ran in reverse order of the actions"
    assert not done["open"]
    assert o.client.post(f"/api/v1/changes/{cid}:cancel", headers=o.headers("operator")).status_code == 409


def test_continue_goes_on_with_the_succeeded_targets(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f001", f"{o.tag}f002"]
    cid = to_join(o, targets)
    o.driver.finish(o.driver.wait_run(cid, "join"), failed={targets[0]: "boom"})
    o.wait_status(cid, "partially_failed")
    r = o.client.post(f"/api/v1/changes/{cid}:continue", headers=o.headers("operator"))
    assert r.status_code == 200 and r.json()["dropped"] == [targets[0]]
    assert o.driver.wait_run(cid, "wait_ready").params["nodes"] == [targets[1]]


def test_reject_compensates_and_closes(orch: Orchestrator):
    o = orch
    r = o.create(type="node.add", cluster=o.rke2, targets=[f"{o.tag}f003"], params={"role": "worker"})
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    assert o.approve(cid, decision="reject").status_code == 200
    done = o.wait_status(cid, "cancelled")
    assert done["approvals"][0]["decision"] == "reject" and done["approvals"][0]["comment"] == "looks right"
    assert [r.action for r in o.driver.runs(cid)] == ["preflight"], "nothing ran after the rejection"
