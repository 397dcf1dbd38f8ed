"""The SSH data the executor gets comes from the inventory's events, not from rows a test
wrote: a machine event's ``ssh`` (the catalogue's ``SshAccess``), with a bastion given in
full or by host name, ends up in the ``executor.run`` targets of a change; a machine whose
host key nobody sent is refused before anything is touched."""
from __future__ import annotations

from sqlalchemy import select

from autorke_common.catalogue.inventory import MachineAdded, MachineUpdated, SshAccess
from autorke_orchestrator.adapters.orm import MachineViewRow

from .conftest import Orchestrator


def ssh_of(o: Orchestrator, hostname: str) -> dict | None:
    """The read model's SSH data of a machine (None: not projected yet)."""
    with o.db().unit_of_work() as uow:
        row = uow.session.execute(select(MachineViewRow).where(MachineViewRow.hostname == hostname)
                                  ).scalar_one_or_none()
        return None if row is None else dict(row.ssh or {})


def test_ssh_facet_and_bastion_from_inventory_events_reach_the_executor(orch: Orchestrator):
    o, tag = orch, orch.tag
    jump, direct, via_name = f"{tag}f005", f"{tag}f006", f"{tag}f007"
    bastion = {"hostname": "bastion-1", "address": "127.0.0.9", "port": 2222, "host_key": "ssh-ed25519 AAAAbastion"}
    o.driver.publish(MachineUpdated(machine=f"id-{jump}", hostname=jump, ip="127.9.9.5", fields=["ssh"], ssh=SshAccess(
        address="127.9.9.5", port=2201, user="ops", host_key="ssh-ed25519 AAAAnew", bastion=bastion)))
    o.driver.publish(MachineUpdated(machine=f"id-{via_name}", hostname=via_name, ip="127.9.9.7", fields=["ssh"],
                                    ssh=SshAccess(address="127.9.9.7", host_key="ssh-ed25519 AAAAseven",
                                                  bastion=direct)))
    o.driver.wait(lambda: ssh_of(o, jump).get("host_key") == "ssh-ed25519 AAAAnew"
                  and ssh_of(o, via_name).get("bastion") == direct, what="SSH data projected")
    assert ssh_of(o, direct)["host_key"] == f"ssh-ed25519 AAAAkey{direct}", "kept from machine.added"

    r = o.create(type="node.add", cluster=o.rke2, targets=[jump, via_name], params={"role": "worker"})
    assert r.status_code == 201, r.text
    targets = {t.host: t for t in o.driver.wait_run(r.json()["id"], "preflight").targets}
    assert (targets[jump].address, targets[jump].port, targets[jump].user, targets[jump].host_key) == (
        "127.9.9.5", 2201, "ops", "ssh-ed25519 AAAAnew")
    assert targets[jump].bastion.model_dump() == {"host": "bastion-1", "address": "127.0.0.9", "port": 2222,
                                                  "user": None, "host_key": "ssh-ed25519 AAAAbastion"}
    named = targets[via_name].bastion
    assert (named.host, named.host_key) == (direct, f"ssh-ed25519 AAAAkey{direct}"), "bastion looked up by name"


def test_machine_without_host_key_is_refused_before_anything_runs(orch: Orchestrator):
    o, tag = orch, orch.tag
    o.driver.publish(MachineAdded(machine=f"id-{tag}nokey", hostname=f"{tag}nokey", ip="127.9.9.9",
                                  state="available"))
    o.driver.wait(lambda: ssh_of(o, f"{tag}nokey") is not None, what="machine projected")
    r = o.create(type="node.add", cluster=o.rke2, targets=[f"{tag}nokey"], params={"role": "worker"})
    assert r.status_code == 409 and r.json()["type"].endswith("/machine-unreachable"), r.text
    assert o.driver.runs() == []

