"""Journeys of cluster nodes through the public API: ``node.add`` and ``node.remove`` on
the RKE2 and the RKE1 lab clusters (the nodes in the lab Kubernetes API, the machines'
states and clusters in the inventory, SSH only inside the blast radius), the P1 and P2
refusals while a machine is a member, and ``node.update`` of one node's labels and taints."""
from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import Platform, problem, ready, wait

pytestmark = pytest.mark.slow


def api_nodes(p: Platform, cluster: str) -> dict[str, client.V1Node]:
    with p.kube(cluster) as api:
        return {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}


def changes_on(p: Platform, host: str) -> list[dict]:
    r = p.call("GET", "changes", "viewer", params={"limit": 200})
    assert r.status_code == 200, r.text
    return [c for c in r.json()["items"] if host in c.get("targets", [])]


def assert_added(p: Platform, cluster: str, targets: list[str]) -> None:
    nodes = wait(lambda: (n := api_nodes(p, cluster)) and all(h in n and ready(n[h]) for h in targets) and n,
                 120, f"{targets} Ready in {cluster}'s API")
    assert all(nodes[h].metadata.labels.get("example.com/journey") == "node-add" for h in targets)
    assert {h: p.members(cluster).get(h) for h in targets} == {h: ["worker"] for h in targets}
    machines = wait(lambda: (m := {h: p.machine(h) for h in targets}) and
                    all(x["state"] == "member" for x in m.values()) and m, 60, f"{targets} members")
    assert {h: m["cluster"] for h, m in machines.items()} == {h: cluster for h in targets}


def remove(p: Platform, cluster: str, targets: list[str]) -> dict:
    created, _ = p.run_change(type="node.remove", cluster=cluster, targets=targets)
    nodes = api_nodes(p, cluster)
    assert not set(targets) & set(nodes), f"Nodes still in {cluster}'s API: {set(targets) & set(nodes)}"
    machines = wait(lambda: (m := {h: p.machine(h) for h in targets}) and
                    all(x["state"] == "available" for x in m.values()) and m, 60, f"{targets} available")
    assert {h: m["cluster"] for h, m in machines.items()} == {h: None for h in targets}
    assert not set(targets) & set(p.members(cluster))
    return created


def add(p: Platform, cluster: str, targets: list[str]) -> dict:
    created, _ = p.run_change(type="node.add", cluster=cluster, targets=targets,
                              params={"role": "worker", "labels": {"example.com/journey": "node-add"}})
    return created


@pytest.mark.timeout(600)
def test_rke2_node_add_and_remove_touch_only_the_new_nodes_with_p1_p2_refusals(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(2)
    mark = p.events.mark()
    created = add(p, "rke2-lab", targets)
    assert created["plan"]["blast_radius"]["hosts"] == sorted(targets)
    assert_added(p, "rke2-lab", targets)
    assert set(p.touched()) == set(targets), f"SSH commands outside the blast radius: {p.touched()}"

    p.clear_command_logs()
    member = targets[0]
    before = len(changes_on(p, member))
    r = p.change(type="node.add", cluster="rke1-lab", targets=[member], params={"role": "worker"})
    assert r.status_code == 409 and problem(r) == "machine-in-other-cluster", r.text
    r = p.change(type="machine.init", targets=[member], params={"profile": "base"})
    assert r.status_code == 409 and problem(r) == "machine-has-k8s-components", r.text
    assert len(changes_on(p, member)) == before, "a refusal creates no change"
    assert p.touched() == {}, "a refusal touches nothing"
    assert p.machine(member)["cluster"] == "rke2-lab"

    p.clear_command_logs()
    created = remove(p, "rke2-lab", targets)
    assert created["plan"]["blast_radius"]["hosts"] == sorted(targets)
    assert set(p.touched()) == set(targets), f"SSH commands outside the blast radius: {p.touched()}"
    for h in targets:
        # node.add inits a free machine first (DESIGN.md section 3: "init if needed")
        assert p.events.path(h, mark) == ["available", "initializing", "ready", "joining", "member", "draining",
                                          "removing", "cleaning", "available"], f"{h}: {p.events.path(h, mark)}"


@pytest.mark.timeout(600)
def test_rke1_node_add_and_remove_say_they_touch_every_node_and_stay_inside(clean_logs: Platform):
    p = clean_logs
    (host,) = p.claim(1)
    existing = sorted(p.members("rke1-lab"))
    created = add(p, "rke1-lab", [host])
    radius = created["plan"]["blast_radius"]["hosts"]
    assert radius == sorted([*existing, host]), "rke up connects to every node: the plan says so"
    assert any("every node" in w for w in created["plan"]["warnings"]), created["plan"]["warnings"]
    assert_added(p, "rke1-lab", [host])
    touched = p.touched()
    assert host in touched and set(touched) <= set(radius), f"SSH commands outside the blast radius: {touched}"

    p.clear_command_logs()
    created = remove(p, "rke1-lab", [host])
    radius = created["plan"]["blast_radius"]["hosts"]
    assert radius == sorted([*existing, host]), "rke up connects to every node: the plan says so"
    touched = p.touched()
    assert host in touched and set(touched) <= set(radius), f"SSH commands outside the blast radius: {touched}"


@pytest.mark.timeout(300)
def test_node_update_sets_labels_and_taints_on_that_node_only(clean_logs: Platform):
    p = clean_logs
    node = max(h for h, roles in p.members("rke2-lab").items() if roles == ["worker"])
    taint = {"key": "example.com/journey", "value": "update", "effect": "PreferNoSchedule"}
    created, _ = p.run_change(type="node.update", cluster="rke2-lab", targets=[node],
                              params={"labels": {"example.com/journey-update": "yes"}, "taints": [taint]})
    assert created["plan"]["blast_radius"]["hosts"] == [node]
    nodes = api_nodes(p, "rke2-lab")
    assert nodes[node].metadata.labels.get("example.com/journey-update") == "yes"
    assert {(t.key, t.value, t.effect) for t in nodes[node].spec.taints or []} >= \
        {("example.com/journey", "update", "PreferNoSchedule")}
    others = [n for h, n in nodes.items() if h != node]
    assert not [n.metadata.name for n in others if "example.com/journey-update" in (n.metadata.labels or {})]
    assert not [n.metadata.name for n in others if any(t.key == "example.com/journey" for t in n.spec.taints or [])]
    machine = p.machine(node)
    assert machine["labels"].get("example.com/journey-update") == "yes", machine["labels"]
    assert p.touched() == {}, f"node.update goes through the Kubernetes API, no SSH: {p.touched()}"
