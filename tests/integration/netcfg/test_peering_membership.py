"""Cross-cluster peering (DESIGN.md P8): a node, or a route reflector, of another cluster is
refused — at planning, in VCalico's answer, and again at apply time when the cluster
changed in between — and a refusal leaves the cluster and VCalico untouched."""
from __future__ import annotations

import json
import time
import uuid

import httpx
from kubernetes import client

from autorke_lab.vcalico.signing import signed_headers

from .conftest import VCALICO_SECRET, add_node, pools_in
from .test_flatten import FLAT_POOL, assert_nothing_applied, plan, post_callback, wait_status


def other_cluster(netcfg, lab_kube_factory):
    lab = lab_kube_factory(name=f"o{uuid.uuid4().hex[:6]}", seed_workloads=False)
    api = lab.api_client()
    add_node(api, "x1", "10.30.1.11", "r9")
    add_node(api, "x2", "10.30.1.12", "r9")
    netcfg.register_cluster(lab)
    return lab, api


def test_p8_node_or_route_reflector_of_another_cluster_is_refused(netcfg, cluster,
                                                                  lab_kube_factory, vcalico):
    lab, api = cluster
    other, other_api = other_cluster(netcfg, lab_kube_factory)
    before, other_before = pools_in(api), pools_in(other_api)
    node = plan(netcfg, lab.name, nodes=["w1", "x1"], route_reflectors=[])
    assert node.status_code == 409, node.text
    body = node.json()
    assert body["type"] == "https://autorke.dev/problems/cross-cluster-peering"
    assert body["nodes"] == ["x1"] and body["field"] == "nodes" and lab.name in body["detail"]
    rr = plan(netcfg, lab.name, nodes=["w1", "w2"], route_reflectors=["x2"])
    assert rr.status_code == 409 and rr.json()["field"] == "route_reflectors"
    assert "x2" in rr.json()["detail"]
    assert netcfg.call("GET", "/api/v1/tickets", "viewer").json() == {"items": [], "next_cursor": None}
    tickets = httpx.get(f"{vcalico.url}/api/v1/tickets", timeout=5).json()
    assert not [t for t in tickets if t["request"]["cluster"] in (lab.name, other.name)]
    assert pools_in(api) == before and pools_in(other_api) == other_before
    other_api.close()


def test_p8_answer_naming_a_foreign_node_fails_the_ticket(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    vcalico.configure(mode="silent")
    tid = plan(netcfg, lab.name, nodes=["w1", "w2"], route_reflectors=["w1"],
               as_numbers={}).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    vc_id = wait_status(netcfg, tid, "submitted")["vcalico_ticket_id"]
    answer = {"bgp_peers": [{"rack": "r1", "peer_ip": "10.20.1.254", "as_number": 65100,
                             "node_selector": "rack == 'r1'", "nodes": ["w1", "w2"]}],
              "node_as_numbers": {"w1": 65100, "w2": 65100},
              "route_reflectors": [{"node": "x1", "cluster_id": "244.0.0.1"}],
              "accepted_pools": [{"cidr": FLAT_POOL["spec"]["cidr"], "block_size": 26}]}
    body = json.dumps({"event_id": str(uuid.uuid4()), "ticket_id": vc_id, "cluster": lab.name,
                       "result": "approved", "answer": answer,
                       "answered_at": time.time()}).encode()
    r = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert r.status_code == 200 and r.json()["status"] == "failed"
    failed = wait_status(netcfg, tid, "failed")
    assert failed["failure"]["reason"] == "cross-cluster-peering" and "x1" in failed["failure"]["detail"]
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver").status_code == 409
    assert_nothing_applied(api, before)


def test_p8_membership_is_checked_again_before_applying(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    tid = plan(netcfg, lab.name).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    wait_status(netcfg, tid, "callback_received")
    client.CoreV1Api(api).delete_node("w3")       # a route reflector left the cluster meanwhile
    netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver")
    failed = wait_status(netcfg, tid, "failed")
    assert failed["failure"]["reason"] == "cross-cluster-peering"
    assert "w3" in failed["failure"]["detail"]
    assert pools_in(api) == before
    for name in ("w1", "w2", "w4"):
        labels = client.CoreV1Api(api).read_node(name).metadata.labels or {}
        assert "network.autorke.io/flat" not in labels
