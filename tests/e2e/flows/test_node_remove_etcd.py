"""Issue 7, must-shows 5 and 6, on the lab clusters through the real services:

* ``node.remove`` drains first: pods bound to the node are evicted and gone from it (seen
  by watching pods with ``spec.nodeName`` through the official client) before its Node
  object is deleted;
* ``etcd.restore`` sends commands to the etcd nodes only (P6): the snapshot taken by
  ``etcd.snapshot`` comes back on each etcd node, and the command logs of the workers (and
  of every other lab machine) stay empty.
"""
from __future__ import annotations

import threading
import time

from kubernetes import client, watch

from .conftest import Platform, wait

MARKER = "/var/lib/etcd/member/autorke-e2e-marker"


def watch_events(v1: client.CoreV1Api, node: str, seen: list, stop: threading.Event) -> list[threading.Thread]:
    """Record (monotonic time, kind, name, event type) for pods on ``node`` and the node.
    Each watch resumes from the last resourceVersion it saw, so no event falls between two
    streams (on a loaded machine that gap is long)."""
    def follow(kind: str, lister, *args, **selector) -> None:
        w = watch.Watch()
        version = lister(*args, **selector).metadata.resource_version
        while not stop.is_set():
            for ev in w.stream(lister, *args, timeout_seconds=2, resource_version=version, **selector):
                seen.append((time.monotonic(), kind, ev["object"].metadata.name, ev["type"]))
            version = w.resource_version or version

    threads = [threading.Thread(target=follow, args=("pod", v1.list_namespaced_pod, "default"),
                                kwargs={"field_selector": f"spec.nodeName={node}"}, daemon=True),
               threading.Thread(target=follow, args=("node", v1.list_node),
                                kwargs={"field_selector": f"metadata.name={node}"}, daemon=True)]
    for t in threads:
        t.start()
    return threads


def test_node_remove_drains_before_the_node_is_deleted(clean_logs: Platform):
    p = clean_logs
    node = max(h for h, roles in p.members("rke2-lab").items() if roles == ["worker"])
    v1 = p.kube("rke2-lab")
    names = [f"e2e-drain-{i}" for i in range(3)]
    for name in names:
        v1.create_namespaced_pod("default", client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "e2e-drain"}),
            spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name="c", image="busybox")])))
    seen: list = []
    stop = threading.Event()
    threads = watch_events(v1, node, seen, stop)
    try:
        r = p.change(type="node.remove", cluster="rke2-lab", targets=[node])
        assert r.status_code == 201, r.text
        steps = [s["id"] for s in r.json()["plan"]["steps"]]
        assert steps.index("cordon") < steps.index("drain") < steps.index("unjoin") < steps.index("delete")
        cid = r.json()["id"]
        p.wait_change(cid, "awaiting_approval", timeout=60)
        assert p.approve(cid).status_code == 200
        p.wait_change(cid, "succeeded", timeout=240)
        wait(lambda: any(k == "node" and t == "DELETED" for _, k, _, t in seen), 30, "node deletion watched")
    finally:
        stop.set()
    deleted_node = min(at for at, k, _, t in seen if k == "node" and t == "DELETED")
    gone = {n: at for at, k, n, t in seen if k == "pod" and t == "DELETED"}
    assert set(gone) == set(names), f"every pod evicted from {node}: {seen}"
    assert max(gone.values()) < deleted_node, "the pods were gone before the node was deleted"
    assert not v1.list_namespaced_pod("default", field_selector=f"spec.nodeName={node}").items
    assert node not in p.members("rke2-lab"), "released in the inventory"
    assert set(p.touched()) == {node}, p.touched()
    for t in threads:
        t.join(5)
    v1.api_client.close()


def markers(p: Platform, hosts: list[str]) -> dict[str, str]:
    return {h: p.lab.machine(h).exec_in(["cat", MARKER], check=False).stdout.strip() for h in hosts}


def test_etcd_restore_touches_etcd_nodes_only(clean_logs: Platform):
    p = clean_logs
    members = p.members("rke1-lab")
    etcd = sorted(h for h, roles in members.items() if "etcd" in roles)
    assert len(etcd) == 3
    for h in etcd:  # the etcd data a snapshot must bring back (written host-side, not over SSH)
        p.lab.machine(h).exec_in(["sh", "-c", f"mkdir -p {MARKER.rsplit('/', 1)[0]} && echo before > {MARKER}"])
    r = p.change(type="etcd.snapshot", cluster="rke1-lab", params={"snapshot_name": "e2e-snap"})
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["blast_radius"]["hosts"] == etcd
    p.wait_change(r.json()["id"], "succeeded", timeout=120)
    assert set(p.touched()) == set(etcd), p.touched()

    for h in etcd:
        p.lab.machine(h).exec_in(["sh", "-c", f"echo after > {MARKER}"])
    p.clear_command_logs()
    r = p.change(type="etcd.restore", cluster="rke1-lab", params={"snapshot_name": "e2e-snap"})
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["blast_radius"]["hosts"] == etcd
    cid = r.json()["id"]
    p.wait_change(cid, "awaiting_approval", timeout=120)
    assert p.approve(cid, user="approver").status_code == 403, "a restore needs an admin"
    assert p.approve(cid, user="admin").status_code == 200
    p.wait_change(cid, "succeeded", timeout=240)

    assert markers(p, etcd) == {h: "before" for h in etcd}, "the snapshot's data is back on every etcd node"
    touched = p.touched()
    assert set(touched) == set(etcd), f"P6: only etcd nodes receive commands: {touched}"
    workers = [h for h, roles in members.items() if "etcd" not in roles]
    assert workers and not set(workers) & set(touched)


def test_rke1_node_remove_deletes_the_node_and_cleans_the_machine(clean_logs: Platform):
    """RKE1: the node is drained, released, left out of the new cluster.yml, and ``rke up
    --update-only`` (as real rke reconciles a node gone from cluster.yml) deletes its Node
    and cleans its worker plane; the cleanup finds nothing of Kubernetes left."""
    p = clean_logs
    members = p.members("rke1-lab")
    node = max(h for h, roles in members.items() if roles == ["worker"])
    v1 = p.kube("rke1-lab")
    assert any(n.metadata.name == node for n in v1.list_node().items)
    r = p.change(type="node.remove", cluster="rke1-lab", targets=[node])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["plan"]["blast_radius"]["hosts"] == sorted(members), "rke up dials every node"
    p.wait_change(cid, "awaiting_approval", timeout=60)
    assert p.approve(cid).status_code == 200
    p.wait_change(cid, "succeeded", timeout=300)

    assert not any(n.metadata.name == node for n in v1.list_node().items), f"{node} deleted from the API"
    v1.api_client.close()
    assert node not in p.members("rke1-lab"), "released in the inventory"
    r = p.call(p.inventory, "GET", "/api/v1/clusters/rke1-lab/configs/cluster.yml", "viewer")
    assert r.status_code == 200, r.text
    latest = max(r.json()["items"], key=lambda v: v["version"])
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/rke1-lab/configs/cluster.yml/{latest['version']}", "admin")
    assert r.status_code == 200, r.text
    assert node not in r.json()["content"], "the new cluster.yml leaves the node out"
    found = "ls -d /etc/kubernetes /var/lib/kubelet 2>/dev/null; docker ps -a --format '{{.Names}}' 2>/dev/null"
    left = p.lab.machine(node).exec_in(["sh", "-c", found], check=False).stdout.split()
    assert left == [], f"{node} still has Kubernetes on it: {left}"
    touched = p.touched()
    assert set(touched) <= set(members) and node in touched, touched
