"""Container-network journeys through the public API: an IP pool's whole life on a lab
cluster (create, update, disable, enable, delete), each step read back from the cluster's
Calico ``crd.projectcalico.org/v1`` IPPool objects, a P7 refusal that creates nothing; and
a ``network.flatten`` ticket with both human steps and the lab VCalico's HMAC-signed
callback (P9), seen in VCalico's own tickets and in the Calico objects and node labels."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from autorke_lab.vcalico.signing import signed_headers

from .conftest import Platform, problem, wait

pytestmark = pytest.mark.slow
G, V = "crd.projectcalico.org", "v1"


def calico(p: Platform, cluster: str, plural: str) -> dict[str, dict]:
    with p.kube(cluster) as api:
        items = client.CustomObjectsApi(api).list_cluster_custom_object(G, V, plural)["items"]
    return {o["metadata"]["name"]: o for o in items}


def pool_view(p: Platform, cluster: str, name: str) -> dict:
    r = p.call("GET", f"clusters/{cluster}/ippools/{name}", "viewer")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["managed"] and view["drift"] is None, f"netcfg's own write is no drift: {view}"
    return view


@pytest.mark.timeout(240)
def test_ippool_create_update_disable_enable_delete_visible_in_calico(clean_logs: Platform):
    p = clean_logs
    cluster, name = "rke2-lab", "journey-pool"
    path = f"clusters/{cluster}/ippools"
    r = p.call("POST", path, json={"name": name, "spec": {"cidr": "10.210.0.0/16", "blockSize": 26}})
    assert r.status_code == 201, r.text
    spec = calico(p, cluster, "ippools")[name]["spec"]
    assert spec["cidr"] == "10.210.0.0/16" and spec["blockSize"] == 26 and not spec.get("disabled"), spec
    pool_view(p, cluster, name)

    r = p.call("PUT", f"{path}/{name}", json={"spec": {"cidr": "10.210.0.0/16", "blockSize": 26,
                                                       "natOutgoing": True, "nodeSelector": "rack == 'r9'"}})
    assert r.status_code == 200, r.text
    spec = calico(p, cluster, "ippools")[name]["spec"]
    assert spec["natOutgoing"] is True and spec["nodeSelector"] == "rack == 'r9'", spec
    pool_view(p, cluster, name)

    assert p.call("POST", f"{path}/{name}:disable").status_code == 200
    assert calico(p, cluster, "ippools")[name]["spec"]["disabled"] is True
    assert pool_view(p, cluster, name)["disabled"] is True
    assert p.call("POST", f"{path}/{name}:enable").status_code == 200
    assert calico(p, cluster, "ippools")[name]["spec"].get("disabled") is False
    pool_view(p, cluster, name)

    r = p.call("DELETE", f"{path}/{name}")
    assert r.status_code == 204, r.text
    assert name not in calico(p, cluster, "ippools")
    assert p.call("GET", f"{path}/{name}", "viewer").status_code == 404

    before = calico(p, cluster, "ippools")
    host_net = p.call("GET", f"clusters/{cluster}", "viewer").json()["host_networks"][0]
    r = p.call("POST", path, json={"name": "journey-over-hosts", "spec": {"cidr": host_net}})
    assert r.status_code in (409, 422) and problem(r) == "pool-overlaps-host-network", r.text
    assert calico(p, cluster, "ippools") == before, "P7: a refused pool creates nothing"
    assert "journey-over-hosts" not in {v["name"] for v in p.call("GET", path, "viewer").json()["items"]}
    assert p.touched() == {}, "pools go through the Kubernetes API, no SSH"


def vcalico_tickets(p: Platform, cluster: str) -> list[dict]:
    tickets = httpx.get(f"{p.lab['components']['vcalico']['url']}/api/v1/tickets", timeout=10).json()
    return [t for t in tickets if t["request"]["cluster"] == cluster]


@pytest.mark.timeout(360)
def test_p9_network_flatten_with_both_human_steps_and_a_signed_callback(clean_logs: Platform):
    p = clean_logs
    cluster = "rke1-lab"
    workers = sorted(h for h, roles in p.members(cluster).items() if roles == ["worker"])[:2]
    racks = dict(zip(workers, ("r1", "r2"), strict=True))
    for node, rack in racks.items():  # the plan needs each node's rack, from its labels
        p.run_change(type="node.update", cluster=cluster, targets=[node], params={"labels": {"rack": rack}})
    seen_before = {t["id"] for t in vcalico_tickets(p, cluster)}

    r = p.call("POST", "tickets", json={
        "cluster": cluster, "nodes": workers, "route_reflectors": workers[:1], "as_numbers": {"r1": 65011},
        "pool": {"name": "journey-flat", "spec": {"cidr": "10.220.0.0/16", "blockSize": 26}},
        "comment": "journey: flat network for r1/r2"})
    assert r.status_code == 201, r.text
    ticket = r.json()
    tid = ticket["id"]
    assert ticket["status"] == "planned" and ticket["requested_by"] == p.subject("operator")
    assert [(n["name"], n["rack"]) for n in ticket["plan"]["nodes"]] == list(racks.items())
    time.sleep(1.0)  # nothing may reach VCalico before the human check; a second is VCalico's answer delay
    assert {t["id"] for t in vcalico_tickets(p, cluster)} == seen_before, "nothing sent before the human check"
    assert p.call("POST", f"tickets/{tid}:approve", "operator").status_code == 403, "the requester never approves"
    r = p.call("POST", f"tickets/{tid}:approve", "approver")
    assert r.status_code == 200 and r.json()["approved_by"] == p.subject("approver"), r.text

    answered = wait(lambda: (t := p.call("GET", f"tickets/{tid}", "viewer").json())["status"] == "callback_received"
                    and t, 90, f"ticket {tid}: VCalico's callback received")
    assert answered["callback"]["result"] == "approved"
    (sent,) = [t for t in vcalico_tickets(p, cluster) if t["id"] not in seen_before]
    assert sent["id"] == answered["vcalico_ticket_id"] and sent["result"] == "approved"
    assert sent["deliveries"] and sent["deliveries"][0]["status_code"] == 200, sent["deliveries"]
    assert "journey-flat" not in calico(p, cluster, "ippools"), "the callback alone applies nothing"

    # a callback not signed with the shared secret is refused at the public webhook
    forged = json.dumps({**sent["callback"], "event_id": str(uuid.uuid4())}).encode()
    r = httpx.post(f"{p.console}/api/v1/webhooks/vcalico", content=forged, timeout=30,
                   headers={"Content-Type": "application/json", **signed_headers("not-the-secret", forged)})
    assert r.status_code == 401 and problem(r) == "bad-signature", r.text
    secret = Path(p.lab["components"]["vcalico"]["secret_file"]).read_text().strip()
    replay = json.dumps(sent["callback"]).encode()
    r = httpx.post(f"{p.console}/api/v1/webhooks/vcalico", content=replay, timeout=30,
                   headers={"Content-Type": "application/json", **signed_headers(secret, replay)})
    assert r.status_code == 200 and r.json()["status"] == "duplicate", r.text

    r = p.call("POST", f"tickets/{tid}:confirm", "approver")
    assert r.status_code == 200, r.text
    applied = wait(lambda: (t := p.call("GET", f"tickets/{tid}", "viewer").json())["status"] == "applied" and t,
                   90, f"ticket {tid} applied")
    assert applied["confirmed_by"] == p.subject("approver")
    pool = calico(p, cluster, "ippools")["journey-flat"]["spec"]
    assert pool["cidr"] == "10.220.0.0/16" and pool["ipipMode"] == "Never" and pool["vxlanMode"] == "Never"
    with p.kube(cluster) as api:
        nodes = {n.metadata.name: n.metadata for n in client.CoreV1Api(api).list_node().items}
    for node in workers:
        labels = nodes[node].labels or {}
        assert labels.get("network.autorke.io/flat") == "true" and labels.get("network.autorke.io/ticket") == tid
        assert (labels.get("route-reflector") == "true") is (node == workers[0]), labels
    assert not [n for n, m in nodes.items() if n not in workers and "network.autorke.io/flat" in (m.labels or {})]
    assert f"{cluster}-tor-r1" in calico(p, cluster, "bgppeers")
    assert p.touched() == {}, "the flat network goes through the Kubernetes API and VCalico, no SSH"
