"""Reverting a ticket (the compensation of a node.add's network steps), with fakes of
netcfg's ports: an applied ticket's peers, pool and node labels are taken back off the
cluster, and only what is still the ticket's; an open ticket is cancelled; every revert is
answered by ``netcfg.ticket.reverted``, once per command."""
from __future__ import annotations

import pytest

from autorke_common.catalogue.netcfg import ApplyTicket, RevertTicket
from autorke_common.envelope import Envelope
from autorke_common.errors import TemporaryError
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.service_layer import apply, revert

from .test_handlers import FLAT, World, confirmed, new_world, seed_ticket

PEER_OF_ANOTHER = {"peerIP": "10.20.1.253", "asNumber": 65009, "nodeSelector": "rack == 'r1'"}


@pytest.fixture
def world() -> World:
    return new_world()


def applied(world: World) -> None:
    confirmed(world)
    assert apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports) == "applied"
    world.uow.events.clear()


def sent(ticket_id: str = "nt-1") -> Envelope:
    return Envelope.of(RevertTicket(ticket_id=ticket_id, requested_by="orchestrator"), source="orchestrator",
                       correlation_id="chg-7")


def reverted_with(world: World) -> dict:
    (answer,) = [e for e in world.uow.events if e.type == "netcfg.ticket.reverted"]
    assert answer.correlation_id == "nt-1" and answer.data["cluster"] == "c1"
    return answer.data["removed"]


def test_reverting_an_applied_ticket_takes_its_writes_back_off_the_cluster(world):
    applied(world)
    command = sent()
    assert revert.revert(command.parsed(), world.ports, command) == "reverted"
    assert world.cluster.objects == {}          # pool, peers, and the BGP configuration apply created
    for name, rack in (("w1", "r1"), ("w2", "r2")):      # the rack labels were there before: kept
        assert world.cluster.node(name)["metadata"] == {"name": name, "labels": {"rack": rack}, "annotations": {}}
    assert world.ticket().status == "reverted"
    assert world.uow.event_types() == ["netcfg.ippool.deleted", "netcfg.ticket.reverted"]
    assert reverted_with(world) == {"peers": ["c1-rr-mesh", "c1-tor-r1"], "pools": ["flat"], "nodes": ["w1", "w2"],
                                    "bgp_configuration": ["default"]}
    record = world.pool_record("flat")
    assert record.spec == {} and record.write_started_at is None    # recorded as deleted, not as drift
    assert revert.revert(command.parsed(), world.ports, command) == "reverted"   # redelivered: one effect
    assert len(world.uow.events) == 2
    again = sent()                              # a new revert of a reverted ticket: answered again
    revert.revert(again.parsed(), world.ports, again)
    assert world.uow.events[-1].type == "netcfg.ticket.reverted"
    assert world.uow.events[-1].data["removed"] == world.uow.events[1].data["removed"]


def test_a_rack_label_netcfg_wrote_goes_and_what_apply_replaced_comes_back(world):
    del world.cluster.node_objects["w2"]["metadata"]["labels"]["rack"]   # the plan read it from another label
    world.cluster.node_objects["w1"]["metadata"]["annotations"][ticket_rules.AS_ANNOTATION] = "64999"
    world.cluster.put("bgppeers", "c1-tor-r1", PEER_OF_ANOTHER)          # a peer of the same name, before
    applied(world)
    revert.revert(RevertTicket(ticket_id="nt-1", requested_by="orchestrator"), world.ports)
    assert world.cluster.node("w2")["metadata"] == {"name": "w2", "labels": {}, "annotations": {}}
    assert world.cluster.node("w1")["metadata"]["annotations"] == {ticket_rules.AS_ANNOTATION: "64999"}
    restored = world.cluster.get("bgppeers", "c1-tor-r1")
    assert restored["spec"] == PEER_OF_ANOTHER and restored["metadata"]["labels"] == {}
    assert ("bgppeers", "c1-rr-mesh") not in world.cluster.objects


def test_a_pool_with_addresses_in_use_is_kept_and_said_so(world):
    applied(world)
    world.cluster.objects[("ipamblocks", "b1")] = {"metadata": {"name": "b1"},
                                                   "spec": {"cidr": "10.100.0.0/26", "allocations": [0, None]}}
    revert.revert(RevertTicket(ticket_id="nt-1", requested_by="orchestrator"), world.ports)
    assert world.cluster.get("ippools", "flat")["spec"] == FLAT.spec()
    removed = reverted_with(world)
    assert removed["pools"] == [] and removed["kept_pools"] == ["flat"] and removed["nodes"] == ["w1", "w2"]
    assert world.ticket().status == "reverted" and "netcfg.ippool.deleted" not in world.uow.event_types()


def test_what_a_later_ticket_made_its_own_is_left_alone(world):
    applied(world)
    labels = world.cluster.node_objects["w2"]["metadata"]["labels"]
    labels[ticket_rules.TICKET_LABEL] = "nt-2"
    world.cluster.objects[("bgppeers", "c1-rr-mesh")]["metadata"]["labels"][ticket_rules.TICKET_LABEL] = "nt-2"
    revert.revert(RevertTicket(ticket_id="nt-1", requested_by="orchestrator"), world.ports)
    assert labels[ticket_rules.FLAT_LABEL] == "true" and labels[ticket_rules.TICKET_LABEL] == "nt-2"
    assert ("bgppeers", "c1-rr-mesh") in world.cluster.objects
    assert reverted_with(world)["nodes"] == ["w1"] and reverted_with(world)["peers"] == ["c1-tor-r1"]


@pytest.mark.parametrize("status", list(ticket_rules.OPEN))
def test_an_open_ticket_is_cancelled_and_answered_with_nothing_removed(world, status):
    seed_ticket(world, status, approved_by="anna")
    command = sent()
    assert revert.revert(command.parsed(), world.ports, command) == "cancelled"
    assert world.uow.event_types() == ["netcfg.ticket.failed", "netcfg.ticket.reverted"]
    assert world.uow.events[0].data["reason"] == "cancelled" and reverted_with(world) == {}
    revert.revert(command.parsed(), world.ports, command)     # redelivered: one effect
    assert len(world.uow.events) == 2 and world.cluster.writes == []


@pytest.mark.parametrize("status", list(ticket_rules.ENDED))
def test_an_ended_ticket_is_answered_again_and_left_as_it_is(world, status):
    seed_ticket(world, status)
    assert revert.revert(RevertTicket(ticket_id="nt-1", requested_by="orchestrator"), world.ports) == status
    assert world.uow.event_types() == ["netcfg.ticket.reverted"] and reverted_with(world) == {}


def test_a_ticket_being_applied_is_reverted_once_it_is_applied(world):
    confirmed(world)
    command = sent()
    with pytest.raises(TemporaryError):
        revert.revert(command.parsed(), world.ports, command)
    assert world.ticket().status == "confirmed" and world.uow.events == []
    apply.apply(ApplyTicket(ticket_id="nt-1"), world.ports)
    assert revert.revert(command.parsed(), world.ports, command) == "reverted"   # the redelivery


def test_a_ticket_applied_before_apply_recorded_what_it_replaced_keeps_the_rack_labels(world):
    applied(world)
    row = world.ticket()
    row.applied = {k: v for k, v in row.applied.items() if k != "before"}
    world.uow.seed(row)
    revert.revert(RevertTicket(ticket_id="nt-1", requested_by="orchestrator"), world.ports)
    for name, rack in (("w1", "r1"), ("w2", "r2")):   # netcfg's own keys gone, rack left
        assert world.cluster.node(name)["metadata"]["labels"] == {"rack": rack}
        assert world.cluster.node(name)["metadata"]["annotations"] == {}
    assert reverted_with(world)["peers"] == ["c1-rr-mesh", "c1-tor-r1"]   # found by the ticket's label
    assert ("bgpconfigurations", "default") in world.cluster.objects   # unrecorded: left as it is
