"""Where netcfg meets callers it cannot fully trust: VCalico's webhook, open to anyone until
its signature is checked, reads at most 64 KiB (M4); what a callback's answer may make
netcfg apply is built from the checked plan, never from the answer's free text (M4); and
the four-eyes rule tells people apart by their stable identity, not by the names the IdP
lets them choose (M2). The real service under uvicorn, the lab VCalico, a lab cluster."""
from __future__ import annotations

import json
import time
import uuid

from kubernetes import client

from autorke_lab.vcalico.signing import signed_headers
from fixtures.raw_http import chunked, request

from .conftest import VCALICO_SECRET, G, V, pools_in
from .test_flatten import FLAT_POOL, plan, post_callback, status_of, wait_status

WEBHOOK = "/api/v1/webhooks/vcalico"
LIMIT = 64 * 1024


def port_of(netcfg) -> int:
    return int(netcfg.url.rsplit(":", 1)[1])


def assert_too_large(r) -> None:
    assert r.status == 413, r.body
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/request-too-large") and r.json()["limit"] == LIMIT


def test_m4_an_oversized_webhook_body_is_refused_unread(netcfg):
    port, ts = port_of(netcfg), str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-VCalico-Timestamp": ts,
               "X-VCalico-Signature": "sha256=" + "0" * 64}
    # announced: answered at once, and none of the 10 MiB is ever sent
    assert_too_large(request(port, "POST", WEBHOOK, {**headers, "Content-Length": str(10 * 1024 * 1024)},
                             timeout=20))
    assert_too_large(request(port, "POST", WEBHOOK, {**headers, "Content-Length": str(LIMIT + 1)},
                             timeout=20))
    # chunked: cut off just past 64 KiB, though the body never ends
    assert_too_large(request(port, "POST", WEBHOOK, {**headers, "Transfer-Encoding": "chunked"},
                             chunked([b" " * 16384] * 4 + [b"{}"], last=False), timeout=20))
    # up to the limit it is read, and refused only because it is not signed
    body = b" " * (LIMIT - 2) + b"{}"
    r = request(port, "POST", WEBHOOK, {**headers, "Content-Length": str(len(body))}, [body])
    assert r.status == 401 and r.json()["type"].endswith("/bad-signature"), r.body
    # Unicode digits and non-ASCII signatures are refusals like any bad signature, not errors
    for odd in ({"X-VCalico-Timestamp": ts + "\u00b2"}, {"X-VCalico-Signature": "sha256=" + "\u00e9" * 64}):
        r = request(port, "POST", WEBHOOK, {**headers, **odd, "Content-Length": "2"}, [b"{}"])
        assert r.status == 401 and r.json()["type"].endswith("/bad-signature"), r.body
    assert netcfg.events("autorke.events.netcfg.ticket.callback_received") == []


def answer_body(vc_id: str, cluster: str, answer: dict) -> bytes:
    return json.dumps({"event_id": str(uuid.uuid4()), "ticket_id": vc_id, "cluster": cluster,
                       "result": "approved", "answer": answer, "answered_at": time.time()}).encode()


def peers_of(api) -> dict[str, dict]:
    return {p["metadata"]["name"]: p["spec"] for p in
            client.CustomObjectsApi(api).list_cluster_custom_object(G, V, "bgppeers")["items"]}


def test_m4_peers_are_built_from_the_checked_nodes(netcfg, cluster, vcalico):
    lab, api = cluster
    vcalico.configure(mode="silent")                    # the callbacks are the test's own
    tid = plan(netcfg, lab.name).json()["id"]           # w1..w4 in r1/r2, RRs w1 and w3, r1 at AS 65001
    netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver")
    vc_id = wait_status(netcfg, tid, "submitted")["vcalico_ticket_id"]
    answer = {"bgp_peers": [
        {"rack": "r1", "peer_ip": "10.20.1.254", "as_number": 65001, "node_selector": "all()",
         "nodes": ["w1", "w2"]},
        {"rack": "r2", "peer_ip": "10.20.2.254", "as_number": 65101, "node_selector": "has(kubernetes.io/os)",
         "nodes": ["w3", "w4"]}],
        "node_as_numbers": {"w1": 65001, "w2": 65001, "w3": 65101, "w4": 65101},
        "route_reflectors": [{"node": "w1", "cluster_id": "244.0.0.1"}, {"node": "w3", "cluster_id": "244.0.0.1"}],
        "accepted_pools": [{"cidr": FLAT_POOL["spec"]["cidr"], "block_size": 26}]}
    body = answer_body(vc_id, lab.name, answer)
    r = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "admin").status_code == 200
    wait_status(netcfg, tid, "applied")
    peers = peers_of(api)
    assert peers[f"{lab.name}-tor-r1"] == {
        "peerIP": "10.20.1.254", "asNumber": 65001,
        "nodeSelector": f"network.autorke.io/ticket == '{tid}' && rack == 'r1'"}
    assert peers[f"{lab.name}-tor-r2"]["nodeSelector"] == f"network.autorke.io/ticket == '{tid}' && rack == 'r2'"
    # the selector's labels are on exactly the planned nodes of each rack
    for name, rack in [("w1", "r1"), ("w2", "r1"), ("w3", "r2"), ("w4", "r2")]:
        labels = client.CoreV1Api(api).read_node(name).metadata.labels
        assert labels["network.autorke.io/ticket"] == tid and labels["rack"] == rack

    # a ToR outside the cluster's host networks (here another cluster's node), or a peer
    # covering more than its rack's planned nodes: the answer is refused, nothing applied
    before_pools, before_peers = pools_in(api), peers_of(api)
    other_pool = {"name": "other", "spec": {"cidr": "10.101.0.0/16"}}
    for bad in ({"peer_ip": "10.30.1.11"}, {"nodes": ["w1", "w2", "w3"]}):
        second = plan(netcfg, lab.name, pool=other_pool).json()["id"]
        netcfg.call("POST", f"/api/v1/tickets/{second}:approve", "approver")
        vc_second = wait_status(netcfg, second, "submitted")["vcalico_ticket_id"]
        forged = json.loads(json.dumps(answer))
        forged["bgp_peers"][0].update(bad)
        forged["accepted_pools"] = [{"cidr": "10.101.0.0/16", "block_size": 26}]
        body = answer_body(vc_second, lab.name, forged)
        r = post_callback(netcfg, body, signed_headers(VCALICO_SECRET, body))
        assert r.status_code == 200 and r.json()["status"] == "failed", r.text
        failed = status_of(netcfg, second)
        assert failed["status"] == "failed" and failed["failure"]["reason"] == "invalid-callback", failed
        assert netcfg.call("POST", f"/api/v1/tickets/{second}:confirm", "admin").status_code == 409
    assert pools_in(api) == before_pools and peers_of(api) == before_peers


def test_m2_two_users_with_the_same_display_name_are_different_requesters(netcfg, cluster, identity):
    lab, _ = cluster

    def as_user(method: str, path: str, user: str, **claims):
        return netcfg.http.request(method, path, headers=identity.headers(user, **claims),
                                   json={"cluster": lab.name, "nodes": ["w1"], "pool": FLAT_POOL}
                                   if method == "POST" and path.endswith("/tickets") else None)

    # another person who calls themselves "operator" (Otto's very name) is not Otto
    first = as_user("POST", "/api/v1/tickets", "operator").json()
    namesake = as_user("POST", f"/api/v1/tickets/{first['id']}:approve", "approver",
                       preferred_username="operator", name="Otto Operator")
    assert namesake.status_code == 200, namesake.text
    assert first["requested_by"] == identity.subject("operator")
    assert namesake.json()["approved_by"] == identity.subject("approver")

    # the same person under a new name is still the requester: no self-approval by renaming
    second = as_user("POST", "/api/v1/tickets", "admin", preferred_username="alice", name="Alice").json()
    assert second["requested_by"] == identity.subject("admin")
    renamed = as_user("POST", f"/api/v1/tickets/{second['id']}:approve", "admin",
                      preferred_username="bob", name="Bob")
    assert renamed.status_code == 403 and renamed.json()["type"].endswith("/self-approval"), renamed.text
    assert status_of(netcfg, second["id"])["status"] == "planned"
