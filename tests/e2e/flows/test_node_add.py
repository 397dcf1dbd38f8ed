"""Issue 7, must-show 1: ``node.add`` of 3 lab machines to the RKE2 lab cluster and to the
RKE1 lab cluster, through the real services: plan (blast radius), approval by an approver
who is not the requester, init, join (RKE2: each node by itself; RKE1: ``rke up
--update-only``); the nodes Ready in the lab Kubernetes API (official client), members in
the inventory (REST); and not one SSH command on a lab machine outside the blast radius
(the machines' own command logs)."""
from __future__ import annotations

from .conftest import Platform, ready, wait


def add_and_approve(p: Platform, cluster: str, targets: list[str]) -> dict:
    r = p.change(type="node.add", cluster=cluster, targets=targets, params={"role": "worker",
                                                                             "labels": {"e2e.test/run": "yes"}})
    assert r.status_code == 201, r.text
    change = r.json()
    assert change["requested_by"] == p.identity.subject("operator")
    waiting = p.wait_change(change["id"], "awaiting_approval", timeout=120)
    assert p.approve(change["id"], user="operator").json()["type"].endswith("/self-approval")
    assert p.approve(change["id"]).status_code == 200
    done = p.wait_change(change["id"], "succeeded", timeout=300)
    assert [a["by"] for a in done["approvals"] if not a.get("automatic")] == [p.identity.subject("approver")]
    assert waiting["plan"]["blast_radius"] == change["plan"]["blast_radius"]
    return done


def assert_joined(p: Platform, cluster: str, targets: list[str]) -> None:
    v1 = p.kube(cluster)
    nodes = wait(lambda: (found := {n.metadata.name: n for n in v1.list_node().items
                                    if n.metadata.name in targets and ready(n)}) and len(found) == 3 and found,
                 90, f"{targets} Ready in {cluster}")
    assert all(n.metadata.labels.get("e2e.test/run") == "yes" for n in nodes.values()), "labels synced"
    v1.api_client.close()
    members = p.members(cluster)
    assert {h: members.get(h) for h in targets} == {h: ["worker"] for h in targets}


def test_rke2_node_add_joins_three_nodes_touching_only_them(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(3)
    done = add_and_approve(p, "rke2-lab", targets)
    assert done["plan"]["blast_radius"]["hosts"] == sorted(targets)
    assert_joined(p, "rke2-lab", targets)
    touched = p.touched()
    assert set(touched) == set(targets), f"SSH commands outside the blast radius: {touched}"


def test_rke1_node_add_runs_rke_up_within_its_blast_radius(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(3)
    existing = sorted(p.members("rke1-lab"))
    done = add_and_approve(p, "rke1-lab", targets)
    radius = done["plan"]["blast_radius"]["hosts"]
    assert radius == sorted(existing + targets), "rke up connects to every node: the plan says so"
    assert any("every node" in w for w in done["plan"]["warnings"])
    assert_joined(p, "rke1-lab", targets)
    # the members were recorded before rke up registered them; the state stored after rke
    # up has the inventory read the nodes again (no periodic refresh here)
    wait(lambda: all(p.node_status("rke1-lab").get(h) == "Ready" for h in targets), 60,
         f"{targets} Ready in the inventory")
    touched = p.touched()
    assert set(touched) <= set(radius) and set(targets) <= set(touched), touched
    outside = set(p.machine_names()) - set(radius)
    assert not outside & set(touched), f"SSH commands outside the blast radius: {touched}"
