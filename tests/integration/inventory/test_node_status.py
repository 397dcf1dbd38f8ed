"""The members' node status, end to end on real parts: the inventory and the executor
in-process on one real NATS, each with its own database, a lab Kubernetes API with
simulated kubelets (its node lifecycle controller marks a node whose kubelet stopped
NotReady), read by the executor with the official client through the cluster's sealed
kubeconfig. A placed member's status is refreshed without being asked (the membership
change asks), a stopped kubelet shows NotReady after a refresh, each change is one
``inventory.node.status_changed``, and a refresh of an unknown cluster is problem+json."""
from __future__ import annotations

import time
import uuid

import pytest
from kubernetes import client

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from fixtures.signing import sign

from .conftest import SECRET_KEY, LabCmdb


@pytest.fixture
def nats_url(fresh_nats) -> str:
    """A NATS server of this test's own: the executor's work queue holds no other test's jobs."""
    return fresh_nats.url


def wait_until(what: str, check, last=lambda: None, timeout: float = 120.0):
    """Poll until ``check()`` answers something truthy (no wall-clock assertion: the
    timeout only ends a test that would otherwise hang; ``last()`` says what was seen)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {last()}")
        time.sleep(0.2)


def nodes_of(inv, cluster: str) -> dict[str, dict]:
    r = inv.get(f"/api/v1/clusters/{cluster}/nodes")
    assert r.status_code == 200, r.text
    return {n["hostname"]: n["kubernetes"]["node"] for n in r.json()["items"]}


def test_members_show_ready_then_notready_after_the_kubelet_stops(
        make_inventory, executor, cmdb: LabCmdb, lab_kube_factory, start_kubelet, events):
    kube = lab_kube_factory(seed_workloads=False, node_grace_seconds=4)
    inv = make_inventory(cmdb.url, node_status_interval_s=0)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    machines = inv.get("/api/v1/machines", params={"limit": 2, "state": "available"}).json()["items"]
    a, b = machines[0], machines[1]
    kubelets = {m["hostname"]: start_kubelet(kube, m["hostname"], address=m["ip"], interval=0.3,
                                             labels="node-role.kubernetes.io/worker=true")
                for m in (a, b)}

    def kube_ready() -> dict[str, str]:
        with kube.api_client() as api:
            return {n.metadata.name: next((c.status for c in n.status.conditions or []
                                           if c.type == "Ready"), "") for n in client.CoreV1Api(api).list_node().items}

    # the nodes are registered and Ready before they become members, as in node.add
    wait_until("both kubelets registered", lambda: set(kubelets) <= {
        n for n, ready in kube_ready().items() if ready == "True"}, kube_ready)
    r = inv.post("/api/v1/clusters", json={"name": "ns-lab", "provider": "rke2",
                                           "api_endpoint": kube.url,
                                           "kubeconfig": kube.kubeconfig_yaml})
    assert r.status_code == 201, r.text
    assert nodes_of(inv, "ns-lab") == {}

    # placed by the orchestrator's commands: each placement asks for a refresh by itself
    change = f"chg-{uuid.uuid4().hex[:8]}"
    commands = inv.client.app.state.inventory.commands
    for m in (a, b):
        env = Envelope.of(msg.AssignMembership(change_id=change, machine=m["id"], cluster="ns-lab",
                                               roles=["worker"]),
                          source="orchestrator", correlation_id=change, actor="alice")
        assert commands.handle(sign(env)) == msg.MembershipChanged.TYPE
    seen = wait_until("both members Ready", lambda: (n := nodes_of(inv, "ns-lab")) and all(
        v["status"] == "Ready" for v in n.values()) and n,
        lambda: inv.get("/api/v1/clusters/ns-lab/nodes").json())
    for m in (a, b):
        node = seen[m["hostname"]]
        assert node["name"] == m["hostname"] and node["ready"] == "True" and node["registered"]
        assert node["kubelet_version"] and node["unschedulable"] is False and node["observed_at"]
        assert node["problems"] == []
    detail = inv.get(f"/api/v1/machines/{a['hostname']}").json()["kubernetes"]
    assert detail["node_condition"] == "Ready" and detail["node"]["ready"] == "True"
    events.wait_for(lambda ms: {m["data"]["hostname"] for m in ms
                                if m["type"] == msg.NodeStatusChanged.TYPE
                                and m["data"]["status"] == "Ready"} == {a["hostname"], b["hostname"]})

    # b's kubelet stops posting: the lab's lifecycle controller marks it Unknown -> NotReady
    stopped = kubelets[b["hostname"]]
    stopped.terminate()
    stopped.wait(15)

    wait_until("the lab API marks b Unknown", lambda: kube_ready()[b["hostname"]] == "Unknown", kube_ready)
    assert nodes_of(inv, "ns-lab")[b["hostname"]]["status"] == "Ready"  # not refreshed yet
    r = inv.post("/api/v1/clusters/ns-lab/nodes:refresh")
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]

    def refreshed():
        body = inv.get("/api/v1/clusters/ns-lab/nodes").json()
        return body if body["node_status"]["job_id"] == job_id and \
            body["node_status"]["status"] != "pending" else None

    body = wait_until("the refresh", refreshed)
    assert body["node_status"]["status"] == "done", body["node_status"]
    now = {n["hostname"]: n["kubernetes"]["node"] for n in body["items"]}
    assert now[a["hostname"]]["status"] == "Ready"
    assert now[b["hostname"]]["status"] == "NotReady"
    assert now[b["hostname"]]["ready"] == "Unknown" and now[b["hostname"]]["reason"] == "NodeStatusUnknown"
    assert [p["status"] for p in now[b["hostname"]]["problems"]] == ["Unknown"] * 3  # pressures unknown
    changed = events.wait_for(lambda ms: any(
        m["type"] == msg.NodeStatusChanged.TYPE and m["data"]["job_id"] == job_id for m in ms))
    ours = [m["data"] for m in changed if m["type"] == msg.NodeStatusChanged.TYPE
            and m["data"]["job_id"] == job_id]
    assert [(d["hostname"], d["previous_status"], d["status"]) for d in ours] == \
        [(b["hostname"], "Ready", "NotReady")]  # a, unchanged, has no event
    assert kube.token not in str(events.raw_snapshot())  # the kubeconfig only travels sealed


def test_a_new_rkestate_refreshes_members_placed_before_their_node_registered(
        make_inventory, executor, cmdb: LabCmdb, lab_kube_factory, start_kubelet, events):
    """RKE1 node.add records the member before ``rke up`` registers its Node; the rkestate
    stored after ``rke up`` asks for a refresh, so the new node shows Ready without waiting
    for a period (periodic refresh off here)."""
    kube = lab_kube_factory(seed_workloads=False)
    inv = make_inventory(cmdb.url, node_status_interval_s=0)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    m = inv.get("/api/v1/machines", params={"limit": 1, "state": "available"}).json()["items"][0]
    r = inv.post("/api/v1/clusters", json={"name": "rke1-ns", "provider": "rke", "api_endpoint": kube.url,
                                           "kubeconfig": kube.kubeconfig_yaml})
    assert r.status_code == 201, r.text
    change = f"chg-{uuid.uuid4().hex[:8]}"
    commands = inv.client.app.state.inventory.commands
    place = Envelope.of(msg.AssignMembership(change_id=change, machine=m["id"], cluster="rke1-ns",
                                             roles=["worker"]),
                        source="orchestrator", correlation_id=change, actor="alice")
    assert commands.handle(sign(place)) == msg.MembershipChanged.TYPE
    wait_until("the placement's refresh", lambda: (b := inv.get("/api/v1/clusters/rke1-ns/nodes").json())
               ["node_status"]["status"] == "done" and b)
    assert nodes_of(inv, "rke1-ns")[m["hostname"]]["registered"] is False  # rke up has not run

    start_kubelet(kube, m["hostname"], address=m["ip"], interval=0.3)  # what rke up starts
    with kube.api_client() as api:
        wait_until("the node Ready in the API", lambda: any(
            n.metadata.name == m["hostname"] and any(c.type == "Ready" and c.status == "True"
                                                     for c in n.status.conditions or [])
            for n in client.CoreV1Api(api).list_node().items))
    state = Envelope.of(msg.StoreConfig(change_id=change, cluster="rke1-ns", kind="cluster.rkestate",
                                        content_sealed=SecretBox(SECRET_KEY).seal('{"currentState": {}}')),
                        source="orchestrator", correlation_id=change, actor="alice")
    assert commands.handle(sign(state)) == msg.ConfigVersioned.TYPE
    node = wait_until("the member Ready", lambda: (n := nodes_of(inv, "rke1-ns")[m["hostname"]])
                      ["status"] == "Ready" and n, lambda: inv.get("/api/v1/clusters/rke1-ns/nodes").json())
    assert node["registered"] and node["ready"] == "True"
    assert inv.get("/api/v1/clusters/rke1-ns/nodes").json()["node_status"]["reason"] == "cluster state stored"


def test_refresh_of_an_unknown_cluster_or_one_without_kubeconfig_is_a_problem(make_inventory, events):
    inv = make_inventory(None, node_status_interval_s=0)
    r = inv.post("/api/v1/clusters/nowhere/nodes:refresh")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/not-found")
    assert inv.get("/api/v1/clusters/nowhere/nodes").status_code == 404
    assert inv.post("/api/v1/clusters", json={"name": "bare", "provider": "rke"}).status_code == 201
    r = inv.post("/api/v1/clusters/bare/nodes:refresh")
    assert r.status_code == 422 and r.json()["type"].endswith("/no-kubeconfig")
    assert inv.post("/api/v1/clusters/bare/nodes:refresh", user="viewer").status_code == 403
    body = inv.get("/api/v1/clusters/bare/nodes").json()
    assert body == {"items": [], "next_cursor": None, "node_status": None}  # nothing was asked or stored
    assert not [m for m in events.messages if m.get("type") == "executor.run"]


def test_periodic_refresh_asks_once_per_period_and_not_while_one_is_in_flight(make_inventory, lab_kube):
    from autorke_inventory.service_layer import node_status

    inv = make_inventory(None, node_status_interval_s=0)
    assert inv.post("/api/v1/clusters", json={"name": "p1", "provider": "rke2",
                                              "kubeconfig": lab_kube.kubeconfig_yaml}).status_code == 201
    assert inv.post("/api/v1/clusters", json={"name": "p2", "provider": "rke"}).status_code == 201
    uow = inv.client.app.state.inventory.uow
    first = node_status.request_periodic(uow(), 30, now=3000.0)
    assert first == ["inventory-nodes-p1-p100"]  # p2 has no kubeconfig
    assert node_status.request_periodic(uow(), 30, now=3031.0) == []  # the first is still pending
    assert inv.get("/api/v1/clusters/p1/nodes").json()["node_status"]["status"] == "pending"
