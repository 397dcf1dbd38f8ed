"""The network.flatten flow's decisions as pure functions: the state machine, the two human
steps, P8 membership, the answer check, and the callback signature."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from autorke_common.errors import DomainError, Forbidden, problem_of
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.domain.signature import SignatureRejected, verify
from autorke_netcfg.domain.ticket_rules import NodeFacts

FACTS = {n: NodeFacts(n, ip, {"rack": rack}) for n, ip, rack in
         [("w1", "10.0.1.1", "r1"), ("w2", "10.0.2.1", "r2")]}


def build(nodes, rrs=(), **kw):
    return ticket_rules.build_plan("c1", 64512, list(nodes), list(rrs), kw.get("as_numbers", {}), FACTS,
                           "flat", {"cidr": "10.100.0.0/16", "blockSize": 26})


def test_p9_confirmation_needs_a_callback_first():
    for status in (ticket_rules.PLANNED, ticket_rules.APPROVED, ticket_rules.SUBMITTED):
        with pytest.raises(DomainError) as caught:
            ticket_rules.check_can_confirm("t", status)
        assert caught.value.slug == "confirmation-before-callback"
    ticket_rules.check_can_confirm("t", ticket_rules.CALLBACK_RECEIVED)
    with pytest.raises(DomainError) as caught:
        ticket_rules.check_can_confirm("t", ticket_rules.APPLIED)
    assert caught.value.slug == "illegal-state-transition"


def test_p9_requester_never_takes_a_human_step():
    with pytest.raises(DomainError) as caught:
        ticket_rules.check_not_requester("t", "otto", "otto", "approve")
    assert caught.value.slug == "self-approval" and isinstance(caught.value, Forbidden)
    assert problem_of(caught.value).status == 403
    ticket_rules.check_not_requester("t", "otto", "anna", "approve")


def test_state_machine_allows_only_the_flow():
    approved = ticket_rules.transition("t", ticket_rules.PLANNED, ticket_rules.APPROVED, "approved")
    assert approved == ticket_rules.APPROVED
    with pytest.raises(DomainError):
        ticket_rules.transition("t", ticket_rules.PLANNED, ticket_rules.APPLIED, "applied")
    assert ticket_rules.can_retry(ticket_rules.FAILED, "vcalico-unavailable")
    assert not ticket_rules.can_retry(ticket_rules.FAILED, "vcalico-rejected")


def test_p8_plan_refuses_nodes_and_route_reflectors_of_other_clusters():
    with pytest.raises(DomainError) as caught:
        build(["w1", "x9"])
    assert caught.value.slug == "cross-cluster-peering" and caught.value.extensions["nodes"] == ["x9"]
    with pytest.raises(DomainError) as caught:
        build(["w1"], ["x9"])
    assert caught.value.extensions["field"] == "route_reflectors"
    plan = build(["w1", "w2"], ["w1"], as_numbers={"r1": 65001})
    assert plan["racks"] == ["r1", "r2"] and plan["nodes"][1] == {"name": "w2", "ip": "10.0.2.1",
                                                                 "rack": "r2"}


def test_p8_answer_may_only_name_planned_nodes():
    plan = build(["w1"])
    good = {"node_as_numbers": {"w1": 1}, "route_reflectors": [], "bgp_peers": [],
            "accepted_pools": [{"cidr": "10.100.0.0/16"}]}
    ticket_rules.check_answer("t", plan, good)
    with pytest.raises(DomainError) as caught:
        ticket_rules.check_answer("t", plan, {**good, "route_reflectors": [{"node": "w2", "cluster_id": "x"}]})
    assert caught.value.slug == "cross-cluster-peering"


def test_p9_signature_scheme():
    body, ts = b'{"a":1}', "1700000000"
    sig = "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"X-VCalico-Timestamp": ts, "X-VCalico-Signature": sig}
    verify("s3cret", headers, body, now=1700000010, tolerance_s=300)
    for secret, now, raw in [("other", 1700000010, body), ("s3cret", 1700001000, body),
                             ("s3cret", 1700000010, b'{"a":2}')]:
        with pytest.raises(SignatureRejected):
            verify(secret, headers, raw, now=now, tolerance_s=300)


HOSTS = ("10.0.0.0/16",)


def answer_for(plan, **over):
    peers = [{"rack": "r1", "peer_ip": "10.0.1.254", "as_number": 65001, "node_selector": "all()",
              "nodes": ["w1"]},
             {"rack": "r2", "peer_ip": "10.0.2.254", "as_number": 65002, "node_selector": "all()",
              "nodes": ["w2"]}]
    return {"bgp_peers": peers, "node_as_numbers": {"w1": 65001, "w2": 65002},
            "route_reflectors": [{"node": "w1", "cluster_id": "244.0.0.1"}],
            "accepted_pools": [{"cidr": "10.100.0.0/16"}], **over}


def test_m4_peers_are_built_from_the_checked_nodes():
    plan = build(["w1", "w2"], ["w1"], as_numbers={"r1": 65001})
    answer = answer_for(plan)
    ticket_rules.check_answer("nt-1", plan, answer, HOSTS)
    peers = {p["name"]: p["spec"] for p in ticket_rules.desired_peers("nt-1", "C1", plan, answer, True)}
    assert peers["c1-tor-r1"] == {"peerIP": "10.0.1.254", "asNumber": 65001,
                                  "nodeSelector": "network.autorke.io/ticket == 'nt-1' && rack == 'r1'"}
    assert peers["c1-tor-r2"]["nodeSelector"] == "network.autorke.io/ticket == 'nt-1' && rack == 'r2'"
    assert all("all()" != s["nodeSelector"] for n, s in peers.items() if "-tor-" in n)
    # the labels the selector relies on are the ones written on exactly the planned nodes
    state = ticket_rules.desired_node_state("nt-1", plan, answer)
    assert {n: (s["labels"]["network.autorke.io/ticket"], s["labels"]["rack"]) for n, s in state.items()} == {
        "w1": ("nt-1", "r1"), "w2": ("nt-1", "r2")}


@pytest.mark.parametrize("change,why", [
    (lambda a: a["bgp_peers"][0].update(peer_ip="10.30.1.11"), "outside the cluster's host networks"),
    (lambda a: a["bgp_peers"][0].update(peer_ip="127.0.0.1"), "outside the cluster's host networks"),
    (lambda a: a["bgp_peers"][0].update(peer_ip="169.254.0.1"), "not a unicast address"),
    (lambda a: a["bgp_peers"][0].update(peer_ip="224.0.0.5"), "not a unicast address"),
    (lambda a: a["bgp_peers"][0].update(peer_ip="10.0.1.1"), "one of the ticket's nodes"),
    (lambda a: a["bgp_peers"][0].update(peer_ip="not-an-ip"), "no valid IP address"),
    (lambda a: a["bgp_peers"][0].update(peer_ip=None), "no valid IP address"),
    (lambda a: a["bgp_peers"][0].update(as_number=0), "no valid AS number"),
    (lambda a: a["bgp_peers"][0].update(as_number=2 ** 32), "no valid AS number"),
    (lambda a: a["bgp_peers"][0].update(as_number="65001"), "no valid AS number"),
    (lambda a: a["bgp_peers"][0].update(as_number=65009), "the plan asked for 65001"),
    (lambda a: a["bgp_peers"][0].update(rack="r9"), "no planned node"),
    (lambda a: a["bgp_peers"][1].update(rack="r1", nodes=["w1"]), "two peers"),
    (lambda a: a["bgp_peers"][0].update(nodes=["w1", "w2"]), "exactly its planned nodes"),
    (lambda a: a["bgp_peers"][0].update(nodes=[]), "exactly its planned nodes"),
    (lambda a: a["bgp_peers"][0].update(nodes="w1"), "list of node names"),
    (lambda a: a.update(bgp_peers={"rack": "r1"}), "list of dicts"),
    (lambda a: a["node_as_numbers"].update(w2=-1), "no valid AS number"),
    (lambda a: a["route_reflectors"].append({"node": "w2", "cluster_id": "244.0.0.1"}), "not asked"),
    (lambda a: a["route_reflectors"][0].update(cluster_id="x'; all()"), "IPv4 cluster id"),
])
def test_m4_an_answer_that_goes_beyond_the_plan_is_refused(change, why):
    plan = build(["w1", "w2"], ["w1"], as_numbers={"r1": 65001})
    answer = answer_for(plan)
    change(answer)
    with pytest.raises(DomainError) as caught:
        ticket_rules.check_answer("nt-1", plan, answer, HOSTS)
    assert caught.value.slug == "invalid-callback" and why in caught.value.detail


def test_m4_a_peer_cannot_be_checked_without_the_clusters_host_networks():
    plan = build(["w1", "w2"], ["w1"])
    with pytest.raises(DomainError) as caught:
        ticket_rules.check_answer("nt-1", plan, answer_for(plan), ())
    assert "host networks are unknown" in caught.value.detail
    no_peers = {**answer_for(plan), "bgp_peers": []}
    ticket_rules.check_answer("nt-1", plan, no_peers, ())


@pytest.mark.parametrize("timestamp,signature", [
    ("1700000000\u00b2", None),                  # '²'.isdigit() is True; int() refuses it
    ("\u0661\u0667\u0660\u0660", None),          # Arabic-Indic digits
    ("1700000000 ", None),
    ("1700000000", "sha256=" + "\u00e9" * 64),  # non-ASCII: compare_digest would raise TypeError
    ("1700000000", "sha256=" + "A" * 64),
    ("1700000000", "sha256=abc"),
])
def test_m4_signature_headers_must_be_plain_ascii(timestamp, signature):
    body = b'{"a":1}'
    good = "sha256=" + hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    headers = {"X-VCalico-Timestamp": timestamp, "X-VCalico-Signature": signature or good}
    with pytest.raises(SignatureRejected, match="malformed"):
        verify("s3cret", headers, body, now=1700000010, tolerance_s=300)


def test_a_plan_reads_the_racks_from_the_label_it_is_given():
    facts = {"w1": NodeFacts("w1", "10.0.1.1", {"rack": "old", "autorke.io/rack": "r7"}),
             "w2": NodeFacts("w2", "10.0.2.1", {"rack": "r2"})}
    plan = ticket_rules.build_plan("c1", 64512, ["w1"], [], {}, facts, "flat", {"cidr": "10.100.0.0/16"},
                                   rack_label="autorke.io/rack")
    assert plan["nodes"] == [{"name": "w1", "ip": "10.0.1.1", "rack": "r7"}] and plan["racks"] == ["r7"]
    assert plan["rack_label"] == "autorke.io/rack"
    with pytest.raises(DomainError) as caught:     # w2 has a rack, but not under that label
        ticket_rules.build_plan("c1", 64512, ["w1", "w2"], [], {}, facts, "flat", {"cidr": "10.100.0.0/16"},
                                rack_label="autorke.io/rack")
    assert caught.value.slug == "node-without-rack"
    assert "w2" in caught.value.detail and "'autorke.io/rack'" in caught.value.detail
    assert caught.value.extensions["label"] == "autorke.io/rack"


def test_an_applied_ticket_may_only_be_reverted_and_an_open_one_cancelled():
    assert ticket_rules.transition("t", ticket_rules.APPLIED, ticket_rules.REVERTED, "reverted") == "reverted"
    for status in ticket_rules.OPEN:
        assert ticket_rules.transition("t", status, ticket_rules.CANCELLED, "cancelled") == "cancelled"
    for status in (ticket_rules.CONFIRMED, *ticket_rules.ENDED):
        with pytest.raises(DomainError):
            ticket_rules.transition("t", status, ticket_rules.REVERTED, "reverted")
