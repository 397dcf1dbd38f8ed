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
