"""The ``network.flatten`` flow end to end against the lab VCalico (a real child process
answering with HMAC-signed callbacks) and a lab cluster's Kubernetes API (DESIGN.md P9):
a human approves the plan before anything is sent, a human confirms the callback before
anything is applied, and what is applied is verified in the cluster."""
from __future__ import annotations

import json
import time
import uuid

import httpx
from kubernetes import client

from autorke_lab.vcalico.signing import signed_headers

from .conftest import VCALICO_SECRET, G, V, pools_in, wait_for

FLAT_POOL = {"name": "flat-pods", "spec": {"cidr": "10.100.0.0/16", "blockSize": 26}}


def plan(netcfg, cluster, **overrides):
    body = {"cluster": cluster, "nodes": ["w1", "w2", "w3", "w4"], "route_reflectors": ["w1", "w3"],
            "as_numbers": {"r1": 65001}, "pool": FLAT_POOL, "comment": "flat network for r1/r2"}
    body.update(overrides)
    return netcfg.call("POST", "/api/v1/tickets", json=body)


def status_of(netcfg, ticket_id):
    return netcfg.call("GET", f"/api/v1/tickets/{ticket_id}", "viewer").json()


def wait_status(netcfg, ticket_id, status, timeout=45.0):
    return wait_for(lambda: (t := status_of(netcfg, ticket_id))["status"] == status and t,
                    timeout=timeout)


def vcalico_tickets(vcalico, cluster):
    tickets = httpx.get(f"{vcalico.url}/api/v1/tickets", timeout=5).json()
    return [t for t in tickets if t["request"]["cluster"] == cluster]


def node_meta(api, name):
    meta = client.CoreV1Api(api).read_node(name).metadata
    return meta.labels or {}, meta.annotations or {}


def assert_nothing_applied(api, before_pools):
    assert pools_in(api) == before_pools
    for name in ("w1", "w2", "w3", "w4"):
        labels, annotations = node_meta(api, name)
        assert "network.autorke.io/flat" not in labels and "route-reflector" not in labels
        assert "projectcalico.org/RouteReflectorClusterID" not in annotations
    assert client.CustomObjectsApi(api).list_cluster_custom_object(G, V, "bgppeers")["items"] == []


def post_callback(netcfg, body: bytes, headers: dict) -> httpx.Response:
    return netcfg.http.post("/api/v1/webhooks/vcalico", content=body,
                            headers={"Content-Type": "application/json", **headers})


def test_p9_full_flatten_with_both_human_steps_and_a_signed_callback(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    planned = plan(netcfg, lab.name)
    assert planned.status_code == 201, planned.text
    ticket = planned.json()
    assert ticket["status"] == "planned" and ticket["requested_by"] == netcfg.subject("operator")
    assert ticket["plan"]["nodes"][0] == {"name": "w1", "ip": "10.20.1.11", "rack": "r1"}
    assert ticket["plan"]["racks"] == ["r1", "r2"] and ticket["plan"]["cluster_as"] == 64512
    time.sleep(0.5)
    assert vcalico_tickets(vcalico, lab.name) == []          # nothing sent before approval
    tid = ticket["id"]
    own = netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "operator")
    assert own.status_code == 403                            # an operator is no approver
    second = plan(netcfg, lab.name, pool={"name": "other", "spec": {
        "cidr": "10.101.0.0/16"}}, nodes=["w1"], route_reflectors=[], as_numbers={})
    assert second.status_code == 201
    approved = netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    assert approved.status_code == 200 and approved.json()["approved_by"] == netcfg.subject("approver")
    answered = wait_status(netcfg, tid, "callback_received")
    assert answered["callback"]["result"] == "approved"
    assert len(vcalico_tickets(vcalico, lab.name)) == 1
    assert_nothing_applied(api, before)                      # the callback alone applies nothing
    # the same callback delivered again (VCalico redelivering): one effect
    sent = vcalico_tickets(vcalico, lab.name)[0]["callback"]
    body = json.dumps(sent).encode()
    again = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    confirmed = netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "admin")
    assert confirmed.status_code == 200, confirmed.text
    applied = wait_status(netcfg, tid, "applied")
    assert applied["confirmed_by"] == netcfg.subject("admin")
    # what the cluster holds now, read with the official client
    (pool,) = [p for p in pools_in(api) if p["name"] == "flat-pods"]
    assert pool["spec"]["cidr"] == "10.100.0.0/16" and pool["spec"]["ipipMode"] == "Never"
    assert pool["spec"]["vxlanMode"] == "Never" and pool["spec"]["natOutgoing"] is False
    for name, rack, asn, rr in [("w1", "r1", "65001", True), ("w2", "r1", "65001", False),
                                ("w3", "r2", "65101", True), ("w4", "r2", "65101", False)]:
        labels, annotations = node_meta(api, name)
        assert labels["network.autorke.io/flat"] == "true" and labels["rack"] == rack
        assert labels["network.autorke.io/ticket"] == tid
        assert annotations["projectcalico.org/ASNumber"] == asn
        assert (labels.get("route-reflector") == "true") is rr
        assert (annotations.get("projectcalico.org/RouteReflectorClusterID") == "244.0.0.1") is rr
    co = client.CustomObjectsApi(api)
    peers = {p["metadata"]["name"]: p["spec"] for p in
             co.list_cluster_custom_object(G, V, "bgppeers")["items"]}
    assert peers[f"{lab.name}-tor-r1"] == {"peerIP": "10.20.1.254", "asNumber": 65001,   # the rack's planned nodes
                                           "nodeSelector": f"network.autorke.io/ticket == '{tid}' && rack == 'r1'"}
    assert peers[f"{lab.name}-rr-mesh"]["peerSelector"] == "route-reflector == 'true'"
    bgp = co.get_cluster_custom_object(G, V, "bgpconfigurations", "default")["spec"]
    assert bgp == {"nodeToNodeMeshEnabled": False, "asNumber": 64512}
    types = [e.type for e in netcfg.events("autorke.events.netcfg.>")
             if e.data.get("ticket_id") == tid or e.data.get("pool") == "flat-pods"]
    assert types == ["netcfg.ticket.planned", "netcfg.ticket.approved", "netcfg.ticket.submitted",
                     "netcfg.ticket.callback_received", "netcfg.ticket.confirmed",
                     "netcfg.ippool.created", "netcfg.ticket.applied"]
    listed = netcfg.call("GET", "/api/v1/tickets", "viewer", params={"cluster": lab.name}).json()
    assert {t["id"] for t in listed["items"]} == {tid, second.json()["id"]}
    assert listed["next_cursor"] is None


def test_self_approval_and_self_confirmation_are_refused(netcfg, cluster):
    lab, _ = cluster
    ticket = netcfg.call("POST", "/api/v1/tickets", "admin", json={
        "cluster": lab.name, "nodes": ["w1"], "pool": FLAT_POOL}).json()
    refused = netcfg.call("POST", f"/api/v1/tickets/{ticket['id']}:approve", "admin")
    assert refused.status_code == 403 and refused.json()["type"].endswith("/self-approval")
    assert status_of(netcfg, ticket["id"])["status"] == "planned"


def test_p9_forged_replayed_and_early_confirmation_change_nothing(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    vcalico.configure(mode="silent")                        # VCalico never answers by itself
    tid = plan(netcfg, lab.name).json()["id"]
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver").status_code == 200
    submitted = wait_status(netcfg, tid, "submitted")
    early = netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver")
    assert early.status_code == 409
    assert early.json()["type"] == "https://autorke.dev/problems/confirmation-before-callback"
    vc_ticket = vcalico_tickets(vcalico, lab.name)[0]
    assert vc_ticket["id"] == submitted["vcalico_ticket_id"]
    answer = {"bgp_peers": [], "node_as_numbers": {"w1": 65001}, "route_reflectors": [],
              "accepted_pools": [{"cidr": "10.100.0.0/16", "block_size": 26}]}
    callback = {"event_id": str(uuid.uuid4()), "ticket_id": vc_ticket["id"],
                "cluster": lab.name, "result": "approved", "answer": answer,
                "answered_at": time.time()}
    body = json.dumps(callback).encode()
    forged = post_callback(netcfg, body, signed_headers("not-the-shared-secret", body))
    assert forged.status_code == 401 and forged.json()["type"].endswith("/bad-signature")
    unsigned = post_callback(netcfg, body, {})
    assert unsigned.status_code == 401
    stale = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body, now=time.time() - 3600))
    assert stale.status_code == 401
    tampered = post_callback(netcfg, body.replace(b"65001", b"65002"),
                             signed_headers(VCALICO_SECRET, body))
    assert tampered.status_code == 401
    assert status_of(netcfg, tid)["status"] == "submitted"
    # the genuine callback, then the very same one replayed: one effect
    genuine = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert genuine.status_code == 200 and genuine.json()["status"] == "accepted"
    replay = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    assert status_of(netcfg, tid)["status"] == "callback_received"
    received = [e for e in netcfg.events("autorke.events.netcfg.ticket.callback_received")]
    assert len(received) == 1
    assert_nothing_applied(api, before)                      # waits for the human confirmation


def test_p9_duplicate_delivery_by_vcalico_has_one_effect(netcfg, cluster, vcalico):
    lab, _ = cluster
    vcalico.configure(mode="duplicate")
    tid = plan(netcfg, lab.name).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    wait_status(netcfg, tid, "callback_received")
    deliveries = wait_for(lambda: len(d := vcalico_tickets(vcalico, lab.name)[0]["deliveries"])
                          >= 2 and d)
    assert [d["status_code"] for d in deliveries] == [200, 200]
    assert len(netcfg.events("autorke.events.netcfg.ticket.callback_received")) == 1


def test_p9_vcalico_down_is_retried_then_fails_cleanly_and_can_be_retried(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    vcalico.configure(mode="down")
    tid = plan(netcfg, lab.name).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    failed = wait_status(netcfg, tid, "failed")
    assert failed["failure"]["reason"] == "vcalico-unavailable"
    assert failed["failure"]["retryable"] is True
    assert failed["submit_attempts"] == netcfg.settings.vcalico_submit_attempts == 3
    assert "503" in failed["failure"]["detail"]
    assert vcalico_tickets(vcalico, lab.name) == []
    assert_nothing_applied(api, before)
    early = netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver")
    assert early.status_code == 409
    vcalico.configure(mode="normal")
    retried = netcfg.call("POST", f"/api/v1/tickets/{tid}:retry", "operator")
    assert retried.status_code == 200 and retried.json()["status"] == "approved"
    wait_status(netcfg, tid, "callback_received")
    assert len(vcalico_tickets(vcalico, lab.name)) == 1
    netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver")
    wait_status(netcfg, tid, "applied")
    assert [p["name"] for p in pools_in(api)] == ["flat-pods"]
    failed_events = netcfg.events("autorke.events.netcfg.ticket.failed")
    assert [e.data["reason"] for e in failed_events] == ["vcalico-unavailable"]
    assert len(netcfg.events("autorke.events.netcfg.ticket.retried")) == 1


def test_p9_rejected_ticket_ends_failed_with_nothing_applied(netcfg, cluster, vcalico):
    lab, api = cluster
    before = pools_in(api)
    vcalico.configure(mode="reject")
    tid = plan(netcfg, lab.name).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    failed = wait_status(netcfg, tid, "failed")
    assert failed["failure"]["reason"] == "vcalico-rejected" and not failed["failure"]["retryable"]
    confirm = netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "approver")
    assert confirm.status_code == 409
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:retry", "operator").status_code == 409
    assert_nothing_applied(api, before)


def test_p9_callback_that_never_comes_times_out(netcfg_factory, lab_kube_factory, vcalico):
    from .conftest import add_node

    netcfg = netcfg_factory(vcalico_callback_timeout_s=1.0)
    lab = lab_kube_factory(name=f"t{uuid.uuid4().hex[:6]}", seed_workloads=False)
    api = lab.api_client()
    add_node(api, "w1", "10.20.1.11", "r1")
    netcfg.register_cluster(lab)
    vcalico.configure(mode="silent")
    tid = plan(netcfg, lab.name, nodes=["w1"], route_reflectors=[], as_numbers={}).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    failed = wait_status(netcfg, tid, "failed")
    assert failed["failure"]["reason"] == "callback-timeout"
    # a late callback is recorded but has no effect
    vc_id = failed["vcalico_ticket_id"]
    body = json.dumps({"event_id": str(uuid.uuid4()), "ticket_id": vc_id, "cluster": lab.name,
                       "result": "approved", "answer": {}, "answered_at": time.time()}).encode()
    late = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert late.status_code == 200 and late.json()["status"] == "ignored"
    assert status_of(netcfg, tid)["status"] == "failed"
    assert pools_in(api) == []
    api.close()


def test_p9_callback_racing_the_submission_record_is_held_then_taken_up(netcfg, cluster, vcalico):
    lab, api = cluster
    unknown = json.dumps({"event_id": str(uuid.uuid4()), "ticket_id": "VC-not-yet-recorded",
                          "cluster": lab.name, "result": "approved", "answer": {},
                          "answered_at": time.time()}).encode()
    held = post_callback(netcfg, unknown, signed_headers(VCALICO_SECRET, unknown))
    assert held.status_code == 200 and held.json()["status"] == "held"
    vcalico.configure(delay_s=0.0)              # answer at once, maybe before netcfg records
    tid = plan(netcfg, lab.name).json()["id"]
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    answered = wait_status(netcfg, tid, "callback_received")
    assert answered["callback"]["result"] == "approved"
    assert len(netcfg.events("autorke.events.netcfg.ticket.callback_received")) == 1
    assert_nothing_applied(api, [])
