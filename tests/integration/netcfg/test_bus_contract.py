"""netcfg on the bus: inventory's cluster events are consumed idempotently (a replay or an
older event changes nothing), and the orchestrator can drive ``network.flatten`` with
commands alone — plan, approve, confirm, each signed by it — with the same human-step
rules as REST."""
from __future__ import annotations

import uuid
from datetime import timedelta

from kubernetes import client

from autorke_common.catalogue.inventory import ClusterUpdated
from autorke_common.catalogue.netcfg import ApproveTicket, ConfirmTicket, PlanTicket, PoolSpec
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import pools_in, wait_for
from .test_flatten import status_of, wait_status


def test_cluster_events_are_consumed_once_and_in_order(netcfg, cluster):
    lab, _ = cluster
    path = f"/api/v1/netcfg/clusters/{lab.name}"
    first = netcfg.call("GET", path, "admin").json()
    assert first["host_networks"] == ["10.20.0.0/16", "192.168.10.0/24"]
    newer = netcfg.register_cluster(lab, event="updated", service_cidr="10.96.0.0/12")
    wait_for(lambda: netcfg.call("GET", path, "admin").json()["service_cidr"] == "10.96.0.0/12")
    # an older update delivered late does not overwrite the newer facts
    stale = Envelope.of(ClusterUpdated(**{**newer.data, "service_cidr": "10.55.0.0/16"}),
                        source="inventory")
    stale.time = newer.time - timedelta(minutes=5)
    netcfg.publish(stale)
    netcfg.publish(newer)                      # the same event again: no second effect
    marker = netcfg.register_cluster(lab, event="updated", service_cidr="10.96.0.0/12",
                                     bgp_as=65010)
    wait_for(lambda: netcfg.call("GET", path, "admin").json()["bgp_as"] == 65010)
    assert netcfg.call("GET", path, "admin").json()["service_cidr"] == "10.96.0.0/12"
    assert marker.id != newer.id
    # the new service CIDR is what pools are checked against now
    r = netcfg.call("POST", f"/api/v1/clusters/{lab.name}/ippools",
                    json={"name": "p", "spec": {"cidr": "10.100.0.0/16"}})
    assert r.status_code == 409 and r.json()["conflict"] == "10.96.0.0/12"


def test_orchestrator_drives_flatten_with_commands(netcfg, cluster):
    lab, api = cluster
    change_id = f"chg-{uuid.uuid4().hex[:8]}"
    tid = f"nt-{uuid.uuid4().hex[:12]}"

    def send(message):
        netcfg.publish(sign(Envelope.of(message, source="orchestrator", correlation_id=change_id,
                                        actor=getattr(message, "requested_by", None))))

    plan = PlanTicket(ticket_id=tid, cluster=lab.name, nodes=["w1", "w2"], route_reflectors=[],
                      pool_name="cmd-pool", pool=PoolSpec(cidr="10.110.0.0/16", blockSize=26),
                      requested_by="operator")
    send(plan)
    send(plan)                                   # re-sent: still one ticket
    wait_for(lambda: netcfg.call("GET", f"/api/v1/tickets/{tid}", "viewer").status_code == 200)
    send(ApproveTicket(ticket_id=tid, approved_by="operator"))      # the requester: refused
    dead = wait_for(lambda: netcfg.events("autorke.events.bus.message.dead_lettered"))
    assert "self-approval" in dead[0].data["error"]
    assert status_of(netcfg, tid)["status"] == "planned"
    send(ApproveTicket(ticket_id=tid, approved_by="approver"))
    wait_status(netcfg, tid, "callback_received")
    send(ConfirmTicket(ticket_id=tid, confirmed_by="approver"))
    wait_status(netcfg, tid, "applied")
    assert [p["name"] for p in pools_in(api)] == ["cmd-pool"]
    assert client.CoreV1Api(api).read_node("w2").metadata.labels["network.autorke.io/flat"] == "true"
    events = [e for e in netcfg.events("autorke.events.netcfg.ticket.>") if e.data["ticket_id"] == tid]
    assert [e.type for e in events].count("netcfg.ticket.planned") == 1
    assert {e.correlation_id for e in events} == {change_id}
    assert events[-1].type == "netcfg.ticket.applied"


def test_a_refused_plan_command_answers_with_a_failed_ticket(netcfg, cluster):
    lab, _ = cluster
    tid = f"nt-{uuid.uuid4().hex[:12]}"
    netcfg.publish(sign(Envelope.of(PlanTicket(
        ticket_id=tid, cluster=lab.name, nodes=["w1"], pool_name="bad",
        pool=PoolSpec(cidr="10.20.0.0/24"), requested_by="operator"), source="orchestrator",
        correlation_id="chg-1")))
    failed = wait_for(lambda: [e for e in netcfg.events("autorke.events.netcfg.ticket.failed")
                               if e.data["ticket_id"] == tid])
    assert failed[0].data["reason"] == "plan-refused" and "10.20.0.0/16" in failed[0].data["detail"]
    assert failed[0].correlation_id == "chg-1"
