"""node.add as the seed's seven steps (issue 18) through the public API on ``autorke up``:
two free GPU machines of the lab added to a cluster with its default node profile, which
asks for a flat network. The nodes join labelled from the CMDB (rack, GPU model and count);
the lab VCalico receives one ticket, and only after a human checked it; the Calico pool
and BGP peers exist in the lab cluster only after a human confirmed VCalico's callback;
the nodes carry netcfg's network labels; SSH touched the new machines only."""
from __future__ import annotations

import json
import uuid

import httpx
import pytest
from kubernetes import client

from autorke_lab.vcalico.signing import signed_headers

from .conftest import Platform, problem, ready, wait

pytestmark = pytest.mark.slow
G, V = "crd.projectcalico.org", "v1"
ZONE, GPU_PRODUCT, GPU_COUNT = "topology.kubernetes.io/zone", "nvidia.com/gpu.product", "nvidia.com/gpu.count"


def calico(p: Platform, cluster: str, plural: str) -> dict[str, dict]:
    with p.kube(cluster) as api:
        items = client.CustomObjectsApi(api).list_cluster_custom_object(G, V, plural)["items"]
    return {o["metadata"]["name"]: o for o in items}


def api_nodes(p: Platform, cluster: str) -> dict[str, client.V1Node]:
    with p.kube(cluster) as api:
        return {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}


def node_marks(p: Platform, cluster: str) -> dict[str, tuple]:
    """What a change may set on each node of the cluster: labels, taints, cordon."""
    return {name: (n.metadata.labels, [(t.key, t.value, t.effect) for t in n.spec.taints or []],
                   bool(n.spec.unschedulable)) for name, n in api_nodes(p, cluster).items()}


def vcalico_tickets(p: Platform, cluster: str) -> list[dict]:
    tickets = httpx.get(f"{p.lab['components']['vcalico']['url']}/api/v1/tickets", timeout=10).json()
    return [t for t in tickets if t["request"]["cluster"] == cluster]


def claim_gpu_machines(p: Platform, n: int) -> list[str]:
    """``n`` free lab machines with GPUs (the CMDB says so), no other journey has claimed."""
    free = [h for h in p.lab["components"]["clusters"]["free_machines"] if h not in p.claimed]
    gpu = [h for h in free if p.machine(h)["hardware"]["gpu"]["count"]]
    assert len(gpu) >= n, f"only {len(gpu)} free GPU machines left; raise MACHINES"
    p.claimed.update(gpu[:n])
    return gpu[:n]


def set_default_profile(p: Platform, cluster: str, spec: dict) -> dict:
    current = p.call("GET", f"clusters/{cluster}/node-profiles/default", "viewer").json()
    r = p.call("PUT", f"clusters/{cluster}/node-profiles/default", "admin",
               json={"spec": spec, "comment": "journey: GPU nodes on the flat network",
                     "expected_version": current["version"]})
    assert r.status_code in (200, 201), r.text
    stored = r.json()
    return stored


def waiting_at(p: Platform, change_id: str, step: str) -> dict:
    return wait(lambda: (c := p.get_change(change_id))["status"] == "awaiting_approval"
                and next(s for s in c["plan"]["steps"] if s["id"] == step)["status"] == "awaiting_approval" and c,
                240, f"change {change_id} waits at {step}")


FLAT_PROFILE = {"description": "GPU workers, peered with their racks' ToR", "labels": {"example.com/journey": "flat"},
                "network": {"enabled": True, "route_reflectors": 1}}


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("cluster", "cidr"), [("rke2-lab", "10.241.0.0/24"), ("rke1-lab", "10.242.0.0/24")])
def test_gpu_machines_join_labelled_from_the_cmdb_and_get_their_flat_network_inside_the_change(
        clean_logs: Platform, cluster: str, cidr: str):
    p = clean_logs
    profile = set_default_profile(p, cluster, FLAT_PROFILE)
    try:
        flat_network_journey(p, cluster, cidr, profile)
    finally:  # the other journeys add nodes without the flat network
        set_default_profile(p, cluster, {})


def flat_network_journey(p: Platform, cluster: str, cidr: str, profile: dict) -> None:
    targets = claim_gpu_machines(p, 2)
    facts = {h: p.machine(h) for h in targets}
    params = {"role": "worker", "network": {"cidr": cidr}}
    dry = {"type": "node.add", "cluster": cluster, "targets": targets, "params": params, "dry_run": True}
    wait(lambda: (r := p.call("POST", "changes", json=dry)).status_code == 200
         and r.json()["plan"]["steps"][-1]["id"] == "net_apply", 60, "the orchestrator knows the new default profile")
    r = p.call("POST", "changes", json={**dry, "params": {"role": "worker"}})
    assert r.status_code == 422 and r.json()["field"] == "params.network.cidr", "the flat network needs its pool"
    seen_before = {t["id"] for t in vcalico_tickets(p, cluster)}
    pool_name = "flat-" + cidr.replace(".", "-").replace("/", "-")
    marks_before = node_marks(p, cluster)

    r = p.change(type="node.add", cluster=cluster, targets=targets, params=params)
    assert r.status_code == 201, r.text
    change = r.json()
    diff = change["plan"]["config_diff"]
    assert f"node profile default v{profile['version']}" in diff, diff
    for h in targets:
        assert f"{ZONE}={facts[h]['network']['rack']}" in diff or f"{ZONE}: {facts[h]['network']['rack']}" in diff, diff
    assert f"+ippool {pool_name}: cidr {cidr}" in diff
    p.wait_change(change["id"], "awaiting_approval", timeout=120)
    assert p.approve(change["id"]).status_code == 200

    waiting = waiting_at(p, change["id"], "net_check")
    nodes = wait(lambda: (n := api_nodes(p, cluster)) and all(h in n and ready(n[h]) for h in targets) and n,
                 120, f"{targets} Ready in {cluster}")
    for h in targets:
        labels = nodes[h].metadata.labels
        assert labels[ZONE] == facts[h]["network"]["rack"] and labels["example.com/journey"] == "flat", labels
        assert labels[GPU_COUNT] == str(facts[h]["hardware"]["gpu"]["count"]) and labels.get(GPU_PRODUCT), labels
    plan = next(s for s in waiting["plan"]["steps"] if s["id"] == "net_plan")
    assert plan["status"] == "succeeded", plan
    assert {t["id"] for t in vcalico_tickets(p, cluster)} == seen_before, "nothing reaches VCalico before the check"
    own = p.approve(change["id"], "net_check", user="operator")
    assert own.status_code == 403 and problem(own) == "self-approval", own.text
    assert p.approve(change["id"], "net_check").status_code == 200

    waiting_at(p, change["id"], "net_confirm")
    new = [t for t in vcalico_tickets(p, cluster) if t["id"] not in seen_before]
    assert len(new) == 1 and sorted(n["name"] for n in new[0]["request"]["nodes"]) == sorted(targets), new
    assert pool_name not in calico(p, cluster, "ippools"), "the callback alone applies nothing"
    assert p.approve(change["id"], "net_confirm").status_code == 200

    done = p.wait_change(change["id"], "succeeded", timeout=180)
    assert [s["status"] for s in done["plan"]["steps"]][-5:] == ["succeeded"] * 5
    pool = calico(p, cluster, "ippools")[pool_name]["spec"]
    assert pool["cidr"] == cidr and pool["ipipMode"] == "Never" and pool["vxlanMode"] == "Never"
    peers = calico(p, cluster, "bgppeers")
    for rack in {facts[h]["network"]["rack"] for h in targets}:
        assert f"{cluster}-tor-{rack}".lower() in peers, sorted(peers)
    nodes = api_nodes(p, cluster)
    tid = next(s for s in done["plan"]["steps"] if s["id"] == "net_plan")["targets"]["ticket"]["result"]["ticket_id"]
    for h in targets:
        labels = nodes[h].metadata.labels
        assert labels.get("network.autorke.io/flat") == "true" and labels.get("network.autorke.io/ticket") == tid
    marks = node_marks(p, cluster)
    others = {n: (marks_before[n], marks[n]) for n in marks_before if marks[n] != marks_before[n]}
    assert others == {}, f"the change set labels, taints or a cordon on nodes it was not for: {others}"
    assert {h: p.machine(h)["state"] for h in targets} == dict.fromkeys(targets, "member")
    assert p.machine(targets[0])["labels"][ZONE] == facts[targets[0]]["network"]["rack"], "kept in the inventory"
    touched = p.touched()
    radius = set(done["plan"]["blast_radius"]["hosts"])
    assert set(targets) <= set(touched) <= radius, f"SSH commands outside the blast radius: {touched}"


def vcalico_mode(p: Platform, mode: str) -> None:
    r = httpx.put(f"{p.lab['components']['vcalico']['url']}/control", json={"mode": mode}, timeout=10)
    assert r.status_code == 200, r.text


def step(change: dict, step_id: str) -> dict:
    return next(s for s in change["plan"]["steps"] if s["id"] == step_id)


def refused_ticket(p: Platform, change_id: str, reason: str) -> dict:
    """The change once a ticket step failed with ``reason``: partially failed, the node in."""
    failed = p.wait_change(change_id, "partially_failed", timeout=240)
    ticket = next(s for s in failed["plan"]["steps"]
                  if s["id"].startswith("net_") and s["status"] == "partially_failed")
    assert ticket["targets"]["ticket"]["error_class"] == reason, ticket
    assert step(failed, "member")["status"] == "succeeded", "the node stays joined"
    return failed


@pytest.mark.timeout(900)
def test_a_refused_ticket_leaves_the_node_joined_and_retry_plans_a_new_one_until_vcalico_answers(
        clean_logs: Platform):
    """VCalico rejects the ticket, then is down for the next one, then never calls back, and a
    forged callback is refused: each leaves the node joined, the change partially failed with
    the reason, and no pool; each ``:retry`` plans a new ticket and asks the human check again.
    Once VCalico answers, the change ends with the pool and the peers."""
    p = clean_logs
    cluster, cidr = "rke2-lab", "10.243.0.0/24"
    set_default_profile(p, cluster, FLAT_PROFILE)
    try:
        (host,) = claim_gpu_machines(p, 1)
        seen = {t["id"] for t in vcalico_tickets(p, cluster)}
        r = p.change(type="node.add", cluster=cluster, targets=[host],
                     params={"role": "worker", "network": {"cidr": cidr}})
        assert r.status_code == 201, r.text
        change_id = r.json()["id"]
        pool_name = "flat-" + cidr.replace(".", "-").replace("/", "-")
        p.wait_change(change_id, "awaiting_approval", timeout=120)
        assert p.approve(change_id).status_code == 200

        tickets = []
        for mode, reason in (("reject", "vcalico-rejected"), ("down", "vcalico-unavailable"),
                             ("silent", "callback-timeout")):
            waiting = waiting_at(p, change_id, "net_check")
            tickets.append(step(waiting, "net_plan")["targets"]["ticket"]["result"]["ticket_id"])
            vcalico_mode(p, mode)
            assert p.approve(change_id, "net_check").status_code == 200
            refused_ticket(p, change_id, reason)
            assert pool_name not in calico(p, cluster, "ippools"), f"{mode}: nothing applied"
            if mode == "silent":  # a callback not signed with the shared secret changes nothing
                sent = [t for t in vcalico_tickets(p, cluster) if t["id"] not in seen][-1]
                forged = json.dumps({"event_id": str(uuid.uuid4()), "ticket_id": sent["id"], "result": "approved",
                                     "answer": {}}).encode()
                before = p.get_change(change_id)
                r = httpx.post(f"{p.console}/api/v1/webhooks/vcalico", content=forged, timeout=30,
                               headers={"Content-Type": "application/json",
                                        **signed_headers("not-the-secret", forged)})
                assert r.status_code == 401 and problem(r) == "bad-signature", r.text
                assert p.get_change(change_id)["plan"]["steps"] == before["plan"]["steps"]
            vcalico_mode(p, "normal")
            r = p.call("POST", f"changes/{change_id}:retry")
            assert r.status_code == 200, r.text
        assert len(set(tickets)) == 3, f"each retry plans a new ticket: {tickets}"
        new = [t for t in vcalico_tickets(p, cluster) if t["id"] not in seen]
        assert len(new) == 2, "the rejected and the silent ticket reached VCalico; the one sent while down did not"

        waiting_at(p, change_id, "net_check")
        assert p.approve(change_id, "net_check").status_code == 200
        waiting_at(p, change_id, "net_confirm")
        assert p.approve(change_id, "net_confirm").status_code == 200
        p.wait_change(change_id, "succeeded", timeout=180)
        assert calico(p, cluster, "ippools")[pool_name]["spec"]["cidr"] == cidr
        assert set(p.touched()) == {host}, f"SSH commands outside the blast radius: {p.touched()}"
    finally:
        vcalico_mode(p, "normal")
        set_default_profile(p, cluster, {})


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("custom", "field"), [
    ({"labels": {"example.com/ok": "yes", "Bad Key!": "x"}}, "params.custom_profile.labels.Bad Key!"),
    ({"kubelet": {"max_pods": 5}}, "params.custom_profile.kubelet.max_pods"),
    ({"kubelet": {"system_reserved": {"memory": "lots"}}}, "params.custom_profile.kubelet.system_reserved.memory"),
])
def test_a_custom_profile_with_a_bad_label_or_kubelet_setting_is_refused_at_plan_and_creates_nothing(
        platform: Platform, custom: dict, field: str):
    p = platform
    host = next(h for h in p.lab["components"]["clusters"]["free_machines"] if h not in p.claimed)
    before = p.call("GET", "changes", "viewer", params={"limit": 500}).json()["items"]
    r = p.change(type="node.add", cluster="rke2-lab", targets=[host],
                 params={"role": "worker", "custom_profile": custom})
    assert r.status_code == 422 and problem(r) == "invalid-node-profile" and r.json()["field"] == field, r.text
    assert p.call("GET", "changes", "viewer", params={"limit": 500}).json()["items"] == before, "no change created"
    assert p.machine(host)["state"] == "available" and p.machine(host)["cluster"] is None
    r = p.call("PUT", "clusters/rke1-lab/node-profiles/tuned", json={"spec": {"kubelet": {"max_pods": 200}}})
    assert r.status_code == 422 and r.json()["field"] == "spec.kubelet", "RKE1 takes no kubelet setting per node"
    assert p.call("GET", "clusters/rke1-lab/node-profiles/tuned", "viewer").status_code == 404


@pytest.mark.timeout(900)
def test_cancelling_at_the_confirmation_cancels_the_ticket_and_removes_a_node_whose_network_is_required(
        clean_logs: Platform):
    """The profile says the network is required: cancelling while the callback waits for its
    confirmation cancels the ticket (nothing applied) and compensates the join in reverse:
    the node leaves the cluster's API and the machine is free again."""
    p = clean_logs
    cluster, cidr = "rke2-lab", "10.244.0.0/24"
    set_default_profile(p, cluster, {**FLAT_PROFILE, "network": {**FLAT_PROFILE["network"], "required": True}})
    try:
        (host,) = claim_gpu_machines(p, 1)
        r = p.change(type="node.add", cluster=cluster, targets=[host],
                     params={"role": "worker", "network": {"cidr": cidr}})
        assert r.status_code == 201, r.text
        change_id = r.json()["id"]
        p.wait_change(change_id, "awaiting_approval", timeout=120)
        assert p.approve(change_id).status_code == 200
        waiting_at(p, change_id, "net_check")
        assert p.approve(change_id, "net_check").status_code == 200
        waiting = waiting_at(p, change_id, "net_confirm")
        tid = step(waiting, "net_plan")["targets"]["ticket"]["result"]["ticket_id"]
        assert host in api_nodes(p, cluster)
        r = p.call("POST", f"changes/{change_id}:cancel")
        assert r.status_code == 200, r.text
        done = p.wait_change(change_id, "cancelled", timeout=300)
        assert step(done, "net_plan")["status"] == "compensated" and step(done, "join")["status"] == "compensated"
        ticket = p.call("GET", f"tickets/{tid}", "viewer").json()
        assert ticket["status"] == "cancelled", ticket
        assert "flat-" + cidr.replace(".", "-").replace("/", "-") not in calico(p, cluster, "ippools")
        assert host not in api_nodes(p, cluster), "the node is removed: its network was required"
        machine = wait(lambda: (m := p.machine(host))["state"] == "available" and m, 60, f"{host} available")
        assert machine["cluster"] is None
    finally:
        set_default_profile(p, cluster, {})
