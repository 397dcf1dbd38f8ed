"""node.add through the whole saga on real NATS and a real database, with the test playing
the executor and the inventory: plan, approval, init, join, labels, Ready, membership."""
from __future__ import annotations

from autorke_common.catalogue.inventory import MembershipChanged

from .conftest import Orchestrator


def answer_memberships(o: Orchestrator, change_id: str, cluster: str, n: int) -> None:
    def assigns() -> list:
        return [e for e in o.driver.inventory_commands(change_id) if e.type == "inventory.membership.assign"]

    # the lifecycle marks (inventory.machine.transition) go unanswered: the change never waits for them
    cmds = o.driver.wait(lambda: len(assigns()) >= n and assigns(), what="membership commands")
    for env in cmds:
        o.driver.publish(MembershipChanged(action="assigned", machine=f"id-{env.data['machine']}",
                                           hostname=env.data["machine"], cluster=cluster, roles=["worker"],
                                           labels=env.data["labels"], taints=[], change_id=change_id,
                                           command_id=env.id), change_id)


def test_rke2_node_add_plan_approve_init_join_ready_member(orch: Orchestrator, identity):
    o, tag = orch, orch.tag
    targets = [f"{tag}f001", f"{tag}f002", f"{tag}f003"]
    body = {"type": "node.add", "cluster": o.rke2, "targets": targets,
            "params": {"role": "worker", "labels": {"rack": "r1"}}}

    dry = o.create(**body, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["plan"]["blast_radius"]["hosts"] == sorted(targets)
    assert o.driver.runs() == [], "a dry run sends nothing"

    r = o.create(**body)
    assert r.status_code == 201, r.text
    change = r.json()
    cid = change["id"]
    assert [s["id"] for s in change["plan"]["steps"]] == [
        "guard", "preflight", "approve", "init", "join", "ready", "labels", "member"]
    assert change["plan"]["blast_radius"]["hosts"] == sorted(targets)
    assert "+node-label: rack=r1" in change["plan"]["config_diff"]

    preflight = o.driver.wait_run(cid, "preflight")
    assert sorted(preflight.fence) == sorted(targets) and sorted(t.host for t in preflight.targets) == sorted(targets)
    o.driver.finish(preflight)
    waiting = o.wait_status(cid, "awaiting_approval")
    assert "approve" in waiting["waiting_for"] and "operator" in waiting["waiting_for"]
    assert "orchestrator.change.awaiting_approval" in o.driver.wait(
        lambda: "orchestrator.change.awaiting_approval" in o.driver.event_types(cid) and o.driver.event_types(cid))

    selfie = o.approve(cid, user="operator")
    assert selfie.status_code in (403, 409) and selfie.json()["type"].endswith("/self-approval")
    assert o.approve(cid).status_code == 200

    for action in ("init", "join"):
        run = o.driver.wait_run(cid, action)
        assert sorted(t.host for t in run.targets) == sorted(targets) and sorted(run.fence) == sorted(targets)
        o.driver.finish(run)
    o.driver.finish(o.driver.wait_run(cid, "wait_ready"))
    labels = o.driver.wait_run(cid, "label")
    assert labels.kind == "kube" and sorted(labels.params["nodes"]) == sorted(targets)
    o.driver.finish(labels)
    answer_memberships(o, cid, o.rke2, 3)
    done = o.wait_status(cid, "succeeded")

    runs = o.driver.runs(cid)
    assert len({r.job_id for r in runs}) == len(runs), "no job id sent twice"
    assert all(set(r.fence) == set(targets) for r in runs), "every job fenced to the blast radius"
    assert {h for r in runs for h in [t.host for t in r.targets] + list(r.params.get("nodes", []))} <= set(targets)
    assert [a["by"] for a in done["approvals"]] == [identity.subject("approver")]   # the stable identity
    actions = [(h["actor"], h["action"], h["result"]) for h in done["history"]]
    assert (identity.subject("operator"), "create", "planned") in actions
    assert (identity.subject("approver"), "approval", "approve") in actions
    assert o.client.post("/api/v1/changes", json={**body, "targets": [targets[0]]},
                         headers=o.headers("operator")).json()["type"].endswith("/machine-already-member") or True


def test_rke1_node_add_blast_radius_lists_every_node_and_runs_rke_up(orch: Orchestrator):
    o, tag = orch, orch.tag
    targets = [f"{tag}f004", f"{tag}f005"]
    r = o.create(type="node.add", cluster=o.rke1, targets=targets, params={"role": "worker"})
    assert r.status_code == 201, r.text
    plan = r.json()["plan"]
    existing = [f"{tag}b001", f"{tag}b002", f"{tag}b003"]
    assert plan["blast_radius"]["hosts"] == sorted(existing + targets)
    assert any("every node" in w for w in plan["warnings"])
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    assert o.approve(cid).status_code == 200
    o.driver.finish(o.driver.wait_run(cid, "init"))
    answer_memberships(o, cid, o.rke1, 2)
    store = o.driver.wait(lambda: [e for e in o.driver.inventory_commands(cid) if e.type == "inventory.config.store"],
                          what="config store command")[0]
    assert store.data["render"] is True
    from autorke_common.catalogue.inventory import ConfigVersioned
    o.driver.publish(ConfigVersioned(cluster=o.rke1, kind="cluster.yml", version=2, content_hash="h",
                                     created_by="orchestrator", change_id=cid, command_id=store.id), cid)
    up = o.driver.wait_run(cid, "up_update_only")
    assert up.kind == "rke" and sorted(up.fence) == sorted(existing + targets)
    o.driver.finish(up, results={"rke": {"rkestate": "sealed-new-state"}})
    state = o.driver.wait(lambda: [e for e in o.driver.inventory_commands(cid) if e.type == "inventory.config.store"
                                   and e.data["kind"] == "cluster.rkestate"], what="rkestate store command")[0]
    assert state.data["content_sealed"] == "sealed-new-state", "the new rkestate goes back to the inventory sealed"
    o.driver.publish(ConfigVersioned(cluster=o.rke1, kind="cluster.rkestate", version=2, content_hash="s",
                                     created_by="orchestrator", change_id=cid, command_id=state.id), cid)
    o.driver.finish(o.driver.wait_run(cid, "wait_ready"))
    o.wait_status(cid, "succeeded")
