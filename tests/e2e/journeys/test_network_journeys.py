"""Container-network journeys through the public API: an IP pool's whole life on a lab
cluster (create, update, disable, enable, delete), each step an ``ippool.*`` change that
reaches the cluster only after another user approves it (M3), read back from the
cluster's Calico ``crd.projectcalico.org/v1`` IPPool objects; the same through the
console's Network form; a P7 refusal and an immutable field that create nothing; and
a ``network.flatten`` ticket with both human steps and the lab VCalico's HMAC-signed
callback (P9), seen in VCalico's own tickets and in the Calico objects and node labels."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from integration.console.servers import browser_sign_in
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


def pool_change(p: Platform, r: httpx.Response, requester: str = "operator") -> dict:
    """A pool write's 202: the change it became, waiting for an approver; the requester's
    own approval refused (four eyes), then another user's approval, until it succeeded."""
    assert r.status_code == 202, r.text
    change = r.json()
    assert r.headers["location"] == f"/api/v1/changes/{change['id']}"
    assert change["type"].startswith("ippool.") and change["requested_by"] == p.subject(requester)
    p.wait_change(change["id"], "awaiting_approval", timeout=90)
    own = p.approve(change["id"], user=requester)
    assert own.status_code == 403 and problem(own) == "self-approval", own.text
    return change


def approved(p: Platform, change: dict) -> dict:
    assert p.approve(change["id"]).status_code == 200
    return p.wait_change(change["id"], "succeeded", timeout=90)


@pytest.mark.timeout(300)
def test_m3_an_ip_pool_change_waits_for_an_approver_and_reaches_calico_only_after(clean_logs: Platform):
    """The must-show of M3: an IP pool create through the API (and through the console's
    form, below) becomes a change that waits for an approver; the pool appears in the lab
    cluster only after another user approves. Then its whole life (update, disable,
    enable, delete), each a change read back from the cluster's Calico IPPool objects; a
    P7 refusal and an immutable field create no change at all."""
    p = clean_logs
    cluster, name = "rke2-lab", "journey-pool"
    path = f"clusters/{cluster}/ippools"
    spec = {"cidr": "10.210.0.0/16", "blockSize": 26}
    wait(lambda: p.call("GET", path, "viewer").status_code == 200, 60, f"netcfg knows {cluster}")
    change = pool_change(p, p.call("POST", path, json={"name": name, "spec": spec}))
    waiting = p.get_change(change["id"])
    assert "+ cidr: 10.210.0.0/16" in waiting["plan"]["config_diff"], waiting["plan"]
    assert waiting["plan"]["blast_radius"]["hosts"] == []
    assert name not in calico(p, cluster, "ippools"), "nothing in the cluster while the change waits"
    shown = p.call("GET", f"{path}/{name}", "viewer").json()
    assert shown["in_cluster"] is False and shown["pending_change"]["id"] == change["id"], shown
    again = p.call("PUT", f"{path}/{name}", json={"spec": {**spec, "natOutgoing": True}})
    assert again.status_code == 409 and problem(again) == "pool-change-pending", again.text
    approved(p, change)
    got = calico(p, cluster, "ippools")[name]["spec"]
    assert got["cidr"] == "10.210.0.0/16" and got["blockSize"] == 26 and not got.get("disabled"), got
    assert pool_view(p, cluster, name)["pending_change"] is None

    update = {"spec": {**spec, "natOutgoing": True, "nodeSelector": "rack == 'r9'"}}
    change = pool_change(p, p.call("PUT", f"{path}/{name}", json=update))
    assert "- natOutgoing: false\n+ natOutgoing: true" in p.get_change(change["id"])["plan"]["config_diff"]
    assert calico(p, cluster, "ippools")[name]["spec"].get("natOutgoing") is not True
    approved(p, change)
    got = calico(p, cluster, "ippools")[name]["spec"]
    assert got["natOutgoing"] is True and got["nodeSelector"] == "rack == 'r9'", got

    before = calico(p, cluster, "ippools")
    for body, field in (({"spec": {**update["spec"], "cidr": "10.210.0.0/15"}}, "cidr"),
                        ({"spec": {**update["spec"], "blockSize": 24}}, "blockSize")):
        r = p.call("PUT", f"{path}/{name}", json=body)
        assert r.status_code == 422 and problem(r) == "immutable-field" and r.json()["field"] == field, r.text
    assert calico(p, cluster, "ippools") == before

    approved(p, pool_change(p, p.call("POST", f"{path}/{name}:disable")))
    assert calico(p, cluster, "ippools")[name]["spec"]["disabled"] is True
    assert pool_view(p, cluster, name)["disabled"] is True
    approved(p, pool_change(p, p.call("POST", f"{path}/{name}:enable")))
    assert calico(p, cluster, "ippools")[name]["spec"].get("disabled") is False
    approved(p, pool_change(p, p.call("DELETE", f"{path}/{name}")))
    assert name not in calico(p, cluster, "ippools")
    assert p.call("GET", f"{path}/{name}", "viewer").status_code == 404

    before = calico(p, cluster, "ippools")
    changes_before = len(p.call("GET", "changes", "viewer", params={"limit": 500}).json()["items"])
    host_net = p.call("GET", f"clusters/{cluster}", "viewer").json()["host_networks"][0]
    r = p.call("POST", path, json={"name": "journey-over-hosts", "spec": {"cidr": host_net}})
    # the lab's host network is on 127.x: refused as loopback (reserved) before the host rule
    assert r.status_code in (409, 422) and problem(r) in ("pool-overlaps-host-network",
                                                          "pool-overlaps-reserved"), r.text
    assert calico(p, cluster, "ippools") == before, "P7: a refused pool creates nothing"
    assert len(p.call("GET", "changes", "viewer", params={"limit": 500}).json()["items"]) == changes_before
    assert p.touched() == {}, "pools go through the Kubernetes API, no SSH"


@pytest.mark.timeout(240)
def test_m3_an_ip_pool_created_on_the_console_page_waits_for_approval_too(clean_logs: Platform):
    """The console's Network form (a signed-in operator's form post with its CSRF token)
    answers "change created, waiting for approval" with a link to the change; the pool is
    in Calico only once an approver approved."""
    p = clean_logs
    cluster, name = "rke2-lab", "journey-console-pool"
    wait(lambda: p.call("GET", f"clusters/{cluster}/ippools", "viewer").status_code == 200, 60,
         f"netcfg knows {cluster}")
    with browser_sign_in(p.console, "operator") as browser:
        page = browser.get("/ui/network", params={"cluster": cluster})
        assert page.status_code == 200, page.text
        csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
        r = browser.post(f"/ui/network/{cluster}/pools", data={
            "csrf": csrf, "name": name, "cidr": "10.230.0.0/16", "block_size": "26", "ipip_mode": "Never",
            "vxlan_mode": "Never", "node_selector": "all()"})
        assert r.status_code == 303, r.text
        shown = browser.get(r.headers["location"])
        assert 'data-test="change-created"' in shown.text and "waiting for approval" in shown.text
        change_id = shown.text.split('data-test="change-link">')[1].split("<")[0]
        assert f'href="/ui/changes/{change_id}"' in shown.text
        assert f'data-test="pending-change" href="/ui/changes/{change_id}"' in shown.text
    change = p.wait_change(change_id, "awaiting_approval", timeout=90)
    assert change["type"] == "ippool.create" and change["requested_by"] == p.subject("operator")
    assert name not in calico(p, cluster, "ippools"), "nothing in the cluster while the change waits"
    own = p.approve(change_id, user="operator")
    assert own.status_code == 403 and problem(own) == "self-approval"
    approved(p, change)
    assert calico(p, cluster, "ippools")[name]["spec"]["cidr"] == "10.230.0.0/16"
    # tidy up, the same way: disable, then delete, each an approved change
    approved(p, pool_change(p, p.call("POST", f"clusters/{cluster}/ippools/{name}:disable")))
    approved(p, pool_change(p, p.call("DELETE", f"clusters/{cluster}/ippools/{name}")))
    assert name not in calico(p, cluster, "ippools")


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
    others = [n for n, m in nodes.items()
              if n not in workers and (m.labels or {}).get("network.autorke.io/ticket") == tid]
    assert not others, f"the ticket labelled nodes it was not for: {others}"
    assert f"{cluster}-tor-r1" in calico(p, cluster, "bgppeers")
    assert p.touched() == {}, "the flat network goes through the Kubernetes API and VCalico, no SSH"
