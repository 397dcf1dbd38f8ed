"""C2 in netcfg: an ``ippool.*`` command writes a cluster's IP pools only when the
orchestrator signed it. The same ``ippool.apply`` of an approved-looking change, published
unsigned, signed by a key netcfg does not trust, or altered after signing, is dead-lettered
with ``unsigned-command`` or ``bad-signature`` and the lab cluster's pools stay as they
were (read through the official client); signed by the orchestrator, it is applied."""
from __future__ import annotations

import uuid

from autorke_common.catalogue.netcfg import ApplyPool, CheckPool
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import pools_in, wait_for

DEAD = "autorke.events.bus.message.dead_lettered"


def _dead_letter(netcfg, envelope_id: str) -> str:
    def found():
        return next((e.data["error"] for e in netcfg.events(DEAD, 0.2)
                     if e.data.get("message_id") == envelope_id), None)
    return wait_for(found)


def test_c2_netcfg_writes_a_pool_only_on_the_orchestrators_signature(netcfg, cluster):
    lab, api = cluster
    name = f"signed-{uuid.uuid4().hex[:6]}"
    r = netcfg.call("POST", f"/api/v1/clusters/{lab.name}/ippools",
                    json={"name": name, "spec": {"cidr": "10.77.0.0/16", "blockSize": 26}})
    assert r.status_code == 202, r.text
    change = r.json()
    verdict = netcfg.ask(CheckPool(command_id=f"{change['id']}:check:1|kube-api", change_id=change["id"],
                                   cluster=lab.name, pool=name, requested_by="operator", operation="create",
                                   spec=change["params"]["spec"]))
    assert verdict.type == "netcfg.ippool.checked" and not verdict.data["violations"], verdict.data
    before = pools_in(api)

    def apply(attempt: int) -> ApplyPool:
        return ApplyPool(command_id=f"{change['id']}:apply:{attempt}|kube-api", change_id=change["id"],
                         cluster=lab.name, pool=name, requested_by="operator", operation="create",
                         before=verdict.data["before"], after=verdict.data["after"])

    def envelope(command: ApplyPool) -> Envelope:
        return Envelope.of(command, source="orchestrator", correlation_id=change["id"], id=command.command_id)

    unsigned = envelope(apply(1))
    netcfg.publish(unsigned)
    assert "unsigned-command" in _dead_letter(netcfg, unsigned.id)

    intruder = sign(envelope(apply(2)), "intruder")
    netcfg.publish(intruder)
    assert "bad-signature" in _dead_letter(netcfg, intruder.id)

    altered = sign(envelope(apply(3)))
    altered = altered.model_copy(update={"data": {**altered.data, "pool": "another-pool"}})
    netcfg.publish(altered)
    assert "bad-signature" in _dead_letter(netcfg, altered.id)
    assert pools_in(api) == before, "no refused command wrote a pool"

    done = netcfg.ask(apply(4))
    assert done.type == "netcfg.ippool.applied", done.data
    assert name in [p["name"] for p in pools_in(api)]
