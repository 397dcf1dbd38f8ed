"""C2 for the ticket commands the orchestrator sends as steps of a node.add (plan,
approve, confirm, revert): on the bus netcfg obeys them only with the orchestrator's
signature. Unsigned, signed by a key netcfg does not trust, or altered after signing, a
command is dead-lettered with ``unsigned-command`` or ``bad-signature`` and nothing
happens: no ticket is planned, a planned one is not approved. ``submit`` and ``apply``,
netcfg's own follow-ups, and the REST API are not concerned."""
from __future__ import annotations

import uuid

from autorke_common.catalogue.netcfg import ApproveTicket, PlanTicket, PoolSpec, RevertTicket
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import wait_for
from .test_c2_signed_pool_commands import _dead_letter
from .test_flatten import FLAT_POOL, plan, status_of


def envelope(command) -> Envelope:
    return Envelope.of(command, source="orchestrator", correlation_id="chg-c2")


def test_c2_a_ticket_is_planned_on_the_bus_only_on_the_orchestrators_signature(netcfg, cluster):
    lab, _ = cluster

    def plan_command() -> PlanTicket:
        return PlanTicket(ticket_id=f"nt-{uuid.uuid4().hex[:12]}", cluster=lab.name, nodes=["w1"],
                          pool_name="c2-pool", pool=PoolSpec(cidr="10.120.0.0/16", blockSize=26),
                          requested_by="operator")

    unsigned = envelope(plan_command())
    netcfg.publish(unsigned)
    assert "unsigned-command" in _dead_letter(netcfg, unsigned.id)
    intruder = sign(envelope(plan_command()), "intruder")
    netcfg.publish(intruder)
    assert "bad-signature" in _dead_letter(netcfg, intruder.id)
    altered = sign(envelope(plan_command()))
    altered = altered.model_copy(update={"data": {**altered.data, "nodes": ["w1", "w2"]}})
    netcfg.publish(altered)
    assert "bad-signature" in _dead_letter(netcfg, altered.id)
    for refused in (unsigned, intruder, altered):
        ticket_id = refused.data["ticket_id"]
        assert netcfg.call("GET", f"/api/v1/tickets/{ticket_id}", "viewer").status_code == 404
    assert not [e for e in netcfg.events("autorke.events.netcfg.ticket.>")
                if e.data["ticket_id"] in {r.data["ticket_id"] for r in (unsigned, intruder, altered)}]
    signed = sign(envelope(plan_command()))
    netcfg.publish(signed)
    wait_for(lambda: netcfg.call("GET", f"/api/v1/tickets/{signed.data['ticket_id']}", "viewer").status_code == 200)


def test_c2_unsigned_approve_and_revert_change_no_ticket(netcfg, cluster):
    lab, _ = cluster
    tid = plan(netcfg, lab.name, nodes=["w1"], route_reflectors=[], as_numbers={}, pool=FLAT_POOL).json()["id"]
    approve = envelope(ApproveTicket(ticket_id=tid, approved_by="approver"))
    netcfg.publish(approve)
    assert "unsigned-command" in _dead_letter(netcfg, approve.id)
    revert = sign(envelope(RevertTicket(ticket_id=tid, requested_by="orchestrator")), "intruder")
    netcfg.publish(revert)
    assert "bad-signature" in _dead_letter(netcfg, revert.id)
    assert status_of(netcfg, tid)["status"] == "planned"
