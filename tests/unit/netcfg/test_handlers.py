"""netcfg's handlers deciding, with fakes of its own ports (``fakes.py``) in place of the
database, the cluster and VCalico (pool changes: ``test_m3_pool_changes.py``): the
ticket's transitions and its two human steps (P9), the callback, and applying all or
nothing (P8). The same flows run against the real parts in tests/integration/netcfg."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest

from autorke_common.catalogue.netcfg import (
    ApplyTicket,
    ApproveTicket,
    ConfirmTicket,
    PlanTicket,
    PoolSpec,
    SubmitTicket,
)
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import DomainError, Forbidden, Problem, problem_of
from autorke_netcfg.adapters.kube import ClusterRefused
from autorke_netcfg.adapters.orm import ClusterRow, PoolRow, TicketRow
from autorke_netcfg.domain import pool_rules, ticket_rules
from autorke_netcfg.domain.commands import ReceiveCallback, RetryTicket
from autorke_netcfg.domain.signature import expected_signature
from autorke_netcfg.domain.ticket_rules import NodeFacts
from autorke_netcfg.service_layer import apply, callbacks, submission, tickets, views
from autorke_netcfg.service_layer.ports import Ports

from .fakes import FakeCluster, FakeClusters, FakeTicketSystem, FakeUnitOfWork, ports

CLUSTER = ClusterRow(name="c1", kubeconfig_sealed="sealed", host_networks=["10.20.0.0/16"],
                     service_cidr="10.43.0.0/16", pod_cidr="10.42.0.0/16", bgp_as=64512)
NODES = {"w1": ("10.20.1.11", "r1"), "w2": ("10.20.2.11", "r2")}
FLAT = pool_rules.normalise("flat", {"cidr": "10.100.0.0/16", "blockSize": 26})
PLAN = ticket_rules.build_plan("c1", 64512, ["w1", "w2"], ["w1"], {}, {
    n: NodeFacts(n, ip, {"rack": rack}) for n, (ip, rack) in NODES.items()}, FLAT.name, FLAT.spec())
ANSWER = {"bgp_peers": [{"rack": "r1", "peer_ip": "10.20.1.254", "as_number": 65100,
                         "node_selector": "rack == 'r1'", "nodes": ["w1"]}],
          "node_as_numbers": {"w1": 65100}, "route_reflectors": [{"node": "w1", "cluster_id": "244.0.0.1"}],
          "accepted_pools": [{"cidr": "10.100.0.0/16", "block_size": 26}]}
SECRET, SENT_AT = "s3cret", 1_700_000_000


@dataclass
class World:
    uow: FakeUnitOfWork
    cluster: FakeCluster
    vcalico: FakeTicketSystem
    ports: Ports

    def ticket(self, ticket_id: str = "nt-1") -> TicketRow:
        return self.uow.row("tickets", ticket_id)

    def pool_record(self, name: str) -> PoolRow | None:
        return self.uow.row("pools", ("c1", name))


def new_world() -> World:
    uow, cluster, vcalico = FakeUnitOfWork(), FakeCluster(NODES), FakeTicketSystem()
    uow.seed(CLUSTER)
    return World(uow, cluster, vcalico, ports(uow, FakeClusters(c1=cluster), vcalico))


@pytest.fixture
def world() -> World:
    return new_world()


def seed_ticket(world: World, status: str, **fields) -> TicketRow:
    row = TicketRow(id="nt-1", cluster="c1", status=status, requested_by="otto", plan=PLAN,
                    correlation_id="nt-1", **fields)
    world.uow.seed(row)
    return row


def refused(fn, *args) -> DomainError | Problem:
    with pytest.raises((DomainError, Problem)) as caught:
        fn(*args)
    return caught.value


def status_at_the_edge(error: DomainError | Problem) -> int:
    return problem_of(error).status if isinstance(error, DomainError) else error.status


def signed(event_id: str, vcalico_ticket_id: str, result: str = "approved", answer: dict | None = None,
           secret: str = SECRET) -> ReceiveCallback:
    body = json.dumps({"event_id": event_id, "ticket_id": vcalico_ticket_id, "cluster": "c1", "result": result,
                       "answer": ANSWER if answer is None else answer}).encode()
    ts = str(SENT_AT)
    headers = {"X-VCalico-Timestamp": ts, "X-VCalico-Signature": expected_signature(secret, ts, body)}
    return ReceiveCallback(headers, body, now=float(SENT_AT + 5))


def bus(command) -> Envelope:
    return Envelope.of(command, source="orchestrator", correlation_id="chg-7")


# -- tickets: the human steps and the transitions -----------------------------------------
def test_p9_approval_by_another_user_sends_the_ticket(world):
    seed_ticket(world, ticket_rules.PLANNED)
    shown = tickets.approve(ApproveTicket(ticket_id="nt-1", approved_by="anna"), world.ports)
    assert shown["status"] == "approved" and world.ticket().approved_by == "anna"
    assert world.uow.event_types() == ["netcfg.ticket.approved", "netcfg.ticket.submit"]
    assert all(e.correlation_id == "nt-1" for e in world.uow.events)


def test_p9_self_approval_is_refused_and_changes_nothing(world):
    seed_ticket(world, ticket_rules.PLANNED)
    error = refused(tickets.approve, ApproveTicket(ticket_id="nt-1", approved_by="otto"), world.ports)
    assert isinstance(error, Forbidden) and error.slug == "self-approval" and status_at_the_edge(error) == 403
    assert world.ticket().status == "planned" and world.ticket().approved_by is None
    assert world.uow.events == [] and not world.uow.committed


@pytest.mark.parametrize("status", [ticket_rules.PLANNED, ticket_rules.APPROVED, ticket_rules.SUBMITTED])
def test_p9_confirmation_before_the_callback_is_refused(world, status):
    seed_ticket(world, status, approved_by="anna")
    error = refused(tickets.confirm, ConfirmTicket(ticket_id="nt-1", confirmed_by="anna"), world.ports)
    assert error.slug == "confirmation-before-callback" and status_at_the_edge(error) == 409
    assert error.extensions == {"status_now": status}
    assert world.ticket().status == status and world.uow.events == []


def test_p9_confirmation_after_the_callback_applies_next_but_never_by_the_requester(world):
    seed_ticket(world, ticket_rules.CALLBACK_RECEIVED, approved_by="anna")
    error = refused(tickets.confirm, ConfirmTicket(ticket_id="nt-1", confirmed_by="otto"), world.ports)
    assert error.slug == "self-approval" and error.extensions == {"step": "confirm"}
    tickets.confirm(ConfirmTicket(ticket_id="nt-1", confirmed_by="bert"), world.ports)
    assert world.ticket().status == "confirmed" and world.ticket().confirmed_by == "bert"
    assert world.uow.event_types() == ["netcfg.ticket.confirmed", "netcfg.ticket.apply"]


def test_a_redelivered_approval_has_one_effect(world):
    seed_ticket(world, ticket_rules.PLANNED)
    envelope = bus(ApproveTicket(ticket_id="nt-1", approved_by="anna"))
    tickets.approve(envelope.parsed(), world.ports, envelope)
    again = tickets.approve(envelope.parsed(), world.ports, envelope)
    assert again["status"] == "approved"
    assert world.uow.event_types() == ["netcfg.ticket.approved", "netcfg.ticket.submit"]


def plan_command(nodes: list[str], ticket_id: str = "nt-9") -> PlanTicket:
    return PlanTicket(ticket_id=ticket_id, cluster="c1", nodes=nodes, pool_name="flat",
                      pool=PoolSpec(cidr="10.100.0.0/16", blockSize=26), requested_by="otto")


def test_p8_a_plan_naming_another_clusters_node_is_refused_or_answered_with_a_failed_ticket(world):
    error = refused(tickets.plan, plan_command(["w1", "x9"]), world.ports)
    assert error.slug == "cross-cluster-peering" and error.extensions["nodes"] == ["x9"]
    assert world.uow.store["tickets"] == {} and world.uow.events == []
    asked = bus(plan_command(["w1", "x9"]))          # the orchestrator asked: it gets an answer
    shown = tickets.plan(asked.parsed(), world.ports, asked)
    assert shown["status"] == "failed" and shown["failure"]["reason"] == "cross-cluster-peering"
    assert world.uow.event_types() == ["netcfg.ticket.failed"]
    assert world.uow.events[0].correlation_id == "chg-7"


def test_a_plan_is_built_from_the_clusters_own_nodes(world):
    shown = tickets.plan(plan_command(["w1", "w2"]), world.ports)
    assert shown["status"] == "planned" and shown["plan"]["racks"] == ["r1", "r2"]
    assert shown["plan"]["pools"] == [{"name": "flat", **FLAT.spec()}]
    assert world.uow.event_types() == ["netcfg.ticket.planned"]


def test_a_plan_with_a_rack_label_reads_the_racks_from_the_nodes_in_the_cluster(world):
    zone = "topology.kubernetes.io/zone"
    world.cluster.node_objects["w1"]["metadata"]["labels"][zone] = "z1"
    command = plan_command(["w1"]).model_copy(update={"rack_label": zone})
    assert tickets.plan(command, world.ports)["plan"]["nodes"] == [{"name": "w1", "ip": "10.20.1.11", "rack": "z1"}]
    error = refused(tickets.plan, plan_command(["w2"], "nt-8").model_copy(update={"rack_label": zone}), world.ports)
    assert error.slug == "node-without-rack" and "'topology.kubernetes.io/zone'" in error.detail
    assert world.uow.row("tickets", "nt-8") is None


def test_only_a_failed_submission_is_retried(world):
    seed_ticket(world, ticket_rules.FAILED, failure_reason="vcalico-rejected")
    error = refused(tickets.retry, RetryTicket("nt-1", "operator"), world.ports)
    assert error.slug == "not-retryable" and status_at_the_edge(error) == 409
    seed_ticket(world, ticket_rules.FAILED, failure_reason="vcalico-unavailable")
    assert tickets.retry(RetryTicket("nt-1", "operator"), world.ports)["status"] == "approved"
    assert world.ticket().failure_reason is None
    assert world.uow.event_types() == ["netcfg.ticket.retried", "netcfg.ticket.submit"]


def test_p9_a_submission_vcalico_cannot_take_fails_retryably(world):
    seed_ticket(world, ticket_rules.APPROVED, approved_by="anna")
    world.vcalico.down = True
    assert submission.submit(SubmitTicket(ticket_id="nt-1"), world.ports) == "failed"
    assert world.ticket().failure_reason == "vcalico-unavailable" and world.ticket().submit_attempts == 3
    assert views.get_ticket(world.ports, "nt-1")["failure"]["retryable"] is True


def test_p9_a_callback_that_never_comes_fails_the_ticket(world):
    seed_ticket(world, ticket_rules.SUBMITTED, vcalico_ticket_id="VC-1",
                submitted_at=utcnow() - timedelta(hours=2))
    assert tickets.expire_callbacks(world.ports) == ["nt-1"]
    assert world.ticket().failure_reason == "callback-timeout"
    assert tickets.expire_callbacks(world.ports) == []


# -- VCalico's callback -------------------------------------------------------------------
def test_p9_a_signed_callback_waits_for_a_human_and_counts_once(world):
    seed_ticket(world, ticket_rules.SUBMITTED, approved_by="anna", vcalico_ticket_id="VC-1")
    got = callbacks.receive(signed("ev-1", "VC-1"), world.ports)
    assert got == {"status": "accepted", "event_id": "ev-1", "ticket": "nt-1", "ticket_status": "callback_received"}
    assert world.ticket().callback["answer"] == ANSWER
    assert callbacks.receive(signed("ev-1", "VC-1"), world.ports)["status"] == "duplicate"
    assert world.uow.event_types() == ["netcfg.ticket.callback_received"]
    assert world.uow.events[0].data["accepted"] is True
    assert world.cluster.writes == []                # nothing is applied before the confirmation


def test_p9_a_badly_signed_callback_changes_nothing(world):
    seed_ticket(world, ticket_rules.SUBMITTED, vcalico_ticket_id="VC-1")
    error = refused(callbacks.receive, signed("ev-1", "VC-1", secret="forged"), world.ports)
    assert (error.slug, error.status) == ("bad-signature", 401)
    assert world.ticket().status == "submitted" and world.uow.store["callbacks"] == {} and world.uow.events == []


def test_p8_an_answer_naming_a_foreign_node_fails_the_ticket(world):
    seed_ticket(world, ticket_rules.SUBMITTED, vcalico_ticket_id="VC-1")
    answer = {**ANSWER, "route_reflectors": [{"node": "x1", "cluster_id": "244.0.0.1"}]}
    assert callbacks.receive(signed("ev-1", "VC-1", answer=answer), world.ports)["status"] == "failed"
    assert world.ticket().failure_reason == "cross-cluster-peering" and "x1" in world.ticket().failure_detail
    assert world.uow.event_types() == ["netcfg.ticket.callback_received", "netcfg.ticket.failed"]
    assert world.uow.events[0].data["accepted"] is False   # the verdict is in the callback's own event


@pytest.mark.parametrize("result", ["rejected", "bogus"])
def test_a_callback_that_is_not_an_approval_is_not_accepted(world, result):
    seed_ticket(world, ticket_rules.SUBMITTED, vcalico_ticket_id="VC-1")
    assert callbacks.receive(signed("ev-1", "VC-1", result=result), world.ports)["status"] == "failed"
    received, failed = world.uow.events
    assert received.data["accepted"] is False and failed.type == "netcfg.ticket.failed"


def test_a_callback_that_beats_the_submission_record_is_held_then_taken_up(world):
    seed_ticket(world, ticket_rules.APPROVED, approved_by="anna")
    assert callbacks.receive(signed("ev-1", "VC-1"), world.ports)["status"] == "held"
    assert world.uow.events == []
    assert submission.submit(SubmitTicket(ticket_id="nt-1"), world.ports) == "callback_received"
    held = world.uow.row("callbacks", "ev-1")
    assert (held.outcome, held.ticket_id) == ("accepted", "nt-1")
    assert world.uow.event_types() == ["netcfg.ticket.submitted", "netcfg.ticket.callback_received"]


def test_a_late_callback_is_recorded_and_ignored(world):
    seed_ticket(world, ticket_rules.FAILED, vcalico_ticket_id="VC-1", failure_reason="callback-timeout")
    assert callbacks.receive(signed("ev-2", "VC-1"), world.ports)["status"] == "ignored"
    assert world.ticket().status == "failed" and world.uow.events == []


# -- applying: all or nothing -------------------------------------------------------------
def confirmed(world: World) -> None:
    seed_ticket(world, ticket_rules.CONFIRMED, approved_by="anna", confirmed_by="bert",
                vcalico_ticket_id="VC-1", callback={"answer": ANSWER})


def test_a_confirmed_ticket_is_applied_recorded_and_announced(world):
    confirmed(world)
    assert apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports) == "applied"
    objects = world.cluster.objects
    assert objects[("ippools", "flat")]["spec"] == FLAT.spec()
    assert {n for p, n in objects if p == "bgppeers"} == {"c1-tor-r1", "c1-rr-mesh"}
    assert objects[("bgpconfigurations", "default")]["spec"] == {"nodeToNodeMeshEnabled": False, "asNumber": 64512}
    assert world.cluster.node("w1")["metadata"]["labels"]["route-reflector"] == "true"
    assert world.pool_record("flat").spec == FLAT.spec() and world.pool_record("flat").write_started_at is None
    assert world.uow.event_types() == ["netcfg.ippool.created", "netcfg.ticket.applied"]
    assert apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports) == "applied"   # redelivered: no-op
    assert len(world.uow.events) == 2


def test_p8_membership_is_checked_again_before_anything_is_applied(world):
    confirmed(world)
    del world.cluster.node_objects["w2"]
    assert apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports) == "failed"
    assert world.ticket().failure_reason == "cross-cluster-peering" and "w2" in world.ticket().failure_detail
    assert world.cluster.writes == [] and world.pool_record("flat") is None
    assert world.uow.event_types() == ["netcfg.ticket.failed"]


def test_a_write_failing_part_way_leaves_nothing_applied(world):
    confirmed(world)
    world.cluster.fail["upsert"] = ClusterRefused(500, "Internal Server Error")
    assert apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports) == "failed"
    assert world.ticket().failure_reason == "apply-failed"
    assert world.cluster.objects == {}
    assert world.cluster.node("w1")["metadata"] == {"name": "w1", "labels": {"rack": "r1"}, "annotations": {}}
    record = world.pool_record("flat")
    assert record.spec == {} and record.write_started_at is None
    assert world.uow.event_types() == ["netcfg.ticket.failed"]


# -- lists ------------------------------------------------------------------------------
def test_ticket_pages_are_newest_first_and_skip_nothing(world):
    now = utcnow()
    for i in range(5):        # two share a creation time: the id orders them
        world.uow.seed(TicketRow(id=f"nt-{i}", cluster="c1", status="planned", requested_by="otto",
                                 created_at=now - timedelta(seconds=min(i, 3))))
    seen, cursor = [], None
    while True:
        page = views.list_tickets(world.ports, 2, cursor)
        seen += [t["id"] for t in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["nt-0", "nt-1", "nt-2", "nt-4", "nt-3"]
    error = refused(views.list_tickets, world.ports, 2, "not-a-cursor")
    assert (error.slug, error.status, error.extensions) == ("invalid-cursor", 400, {"field": "cursor"})
