"""CMDB sync against the lab CMDB over HTTP: full, incremental, idempotent, retirement
without deletion, conflicts for cluster members, progress events on the real bus, and
the same through the NetBox adapter (pynetbox against the lab's NetBox-shaped API)."""
from __future__ import annotations

import uuid

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import LabCmdb, start_cmdb


def sync(inv, mode: str) -> dict:
    r = inv.post("/api/v1/machines:sync", json={"mode": mode, "wait": True})
    assert r.status_code == 200, r.text
    return r.json()


def test_full_then_incremental_sync_is_idempotent_and_retires(make_inventory, cmdb: LabCmdb,
                                                              events):
    inv = make_inventory(cmdb.url)
    first = sync(inv, "full")
    assert (first["ok"], first["added"], first["seen"]) == (True, 300, 300)
    listed = inv.get("/api/v1/machines", params={"limit": 1}).json()
    assert listed["total"] == 300

    again = sync(inv, "incremental")
    assert (again["seen"], again["added"], again["updated"]) == (0, 0, 0)
    assert sync(inv, "full")["unchanged"] == 300  # nothing changed: nothing written

    cmdb.inventory.change("cmdb-000010", {"rack": "SH-R999"})
    cmdb.inventory.retire("cmdb-000011")
    new = cmdb.inventory.add({"hostname": "fresh-001"})
    inc = sync(inv, "incremental")
    assert (inc["seen"], inc["added"], inc["updated"], inc["retired"]) == (3, 1, 1, 1)

    m10 = inv.get("/api/v1/machines/cmdb-000010").json()
    assert m10["network"]["rack"] == "SH-R999"
    retired = inv.get("/api/v1/machines/cmdb-000011")
    assert retired.status_code == 200 and retired.json()["state"] == "retired"  # kept
    assert inv.get(f"/api/v1/machines/{new['hostname']}").json()["id"] == new["id"]

    seen = events.wait_for(lambda ms: len([m for m in ms if m["type"] == msg.SyncFinished.TYPE
                                           and m["data"]["sync_id"] == inc["sync_id"]]) == 1)
    finished = next(m for m in seen if m["type"] == msg.SyncFinished.TYPE
                    and m["data"]["sync_id"] == inc["sync_id"])
    assert finished["data"]["retired"] == 1
    ours = [m for m in seen if m.get("correlation_id") == inc["sync_id"]]
    types = [m["type"] for m in ours]
    assert types[0] == msg.SyncStarted.TYPE and msg.SyncProgressed.TYPE in types
    assert {m["data"]["machine"] for m in ours if m["type"] == msg.MachineRetired.TYPE} == {
        "cmdb-000011"}


def test_full_sync_retires_machines_missing_from_the_cmdb(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    sync(inv, "full")
    smaller, server = start_cmdb(290)  # the same records, minus the last ten
    try:
        inv2 = make_inventory(smaller.url)  # same database, the CMDB lost ten rows
        result = sync(inv2, "full")
    finally:
        server.stop()
    assert (result["retired"], result["unchanged"]) == (10, 290)
    assert inv2.get("/api/v1/machines/cmdb-000300").json()["state"] == "retired"
    assert inv2.get("/api/v1/machines", params={"state": "retired"}).json()["total"] == 10


def test_member_ip_change_is_a_conflict_not_applied(make_inventory, cmdb: LabCmdb, events,
                                                    nats_url):
    inv = make_inventory(cmdb.url)
    sync(inv, "full")
    assert inv.post("/api/v1/clusters", json={"name": "c-conflict", "provider": "rke2"}
                    ).status_code == 201
    change = f"chg-{uuid.uuid4().hex[:8]}"
    env = Envelope.of(msg.AssignMembership(change_id=change, machine="cmdb-000005",
                                           cluster="c-conflict", roles=["worker"]),
                      source="orchestrator", correlation_id=change, actor="alice")
    answer = inv.client.app.state.inventory.commands.handle(sign(env))
    assert answer == msg.MembershipChanged.TYPE
    before = inv.get("/api/v1/machines/cmdb-000005").json()

    cmdb.inventory.change("cmdb-000005", {"network": {"management_ip": "10.99.99.99"},
                                          "ssh": {"address": "10.99.99.99"}, "rack": "SH-R777"})
    result = sync(inv, "incremental")
    assert result["conflicts"] == 1
    after = inv.get("/api/v1/machines/cmdb-000005").json()
    assert after["ip"] == before["ip"]            # not applied silently
    assert after["network"]["rack"] == "SH-R777"  # the rest of the record is
    assert after["conflicts"][0]["field"] == "ip"
    assert after["conflicts"][0]["incoming"] == "10.99.99.99"
    seen = events.wait_for(lambda ms: any(m["type"] == msg.MachineConflictDetected.TYPE
                                          and m["data"]["machine"] == "cmdb-000005" for m in ms))
    conflict = [m for m in seen if m["type"] == msg.MachineConflictDetected.TYPE][-1]["data"]
    assert (conflict["cluster"], conflict["current"]) == ("c-conflict", before["ip"])


def test_netbox_adapter_syncs_the_same_machines(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url, cmdb_kind="netbox", cmdb_page_size=120)
    first = sync(inv, "full")
    assert (first["ok"], first["added"]) == (True, 300), first
    gpu_record = next(r for r in (cmdb.inventory.get(f"cmdb-{i:06d}") for i in range(1, 301))
                      if r["hardware"]["gpu"]["model"])
    index = int(gpu_record["id"].split("-")[1])
    machine = inv.get(f"/api/v1/machines/netbox-{index}").json()
    assert machine["hostname"] == gpu_record["hostname"]
    assert machine["hardware"]["gpu"]["model"] == gpu_record["hardware"]["gpu"]["model"]
    assert machine["network"]["rack"] == gpu_record["rack"]
    assert machine["ip"] == gpu_record["network"]["management_ip"]

    cmdb.inventory.retire(gpu_record["id"])
    inc = sync(inv, "incremental")
    assert inc["retired"] == 1 and inc["added"] == 0
    assert inv.get(f"/api/v1/machines/netbox-{index}").json()["state"] == "retired"


def test_l5_two_machines_swapping_hostnames_are_conflicts_and_the_rest_of_the_page_is_applied(
        make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    sync(inv, "full")
    a, b = (inv.get(f"/api/v1/machines/{m}").json() for m in ("cmdb-000020", "cmdb-000021"))
    # the CMDB swaps their hostnames (through a temporary one: it keeps hostnames unique itself)
    cmdb.inventory.change("cmdb-000020", {"hostname": "swap-tmp"})
    cmdb.inventory.change("cmdb-000021", {"hostname": a["hostname"]})
    cmdb.inventory.change("cmdb-000020", {"hostname": b["hostname"]})
    cmdb.inventory.change("cmdb-000022", {"rack": "SH-R555"})
    result = sync(inv, "incremental")
    assert result["ok"] and result["conflicts"] == 2, result
    assert inv.get("/api/v1/machines/cmdb-000022").json()["network"]["rack"] == "SH-R555"
    for machine, kept in (("cmdb-000020", a), ("cmdb-000021", b)):
        now = inv.get(f"/api/v1/machines/{machine}").json()
        assert now["hostname"] == kept["hostname"], "nothing renamed onto a name another machine holds"
        assert now["conflicts"] and now["conflicts"][0]["field"] == "hostname"
    assert sync(inv, "incremental")["ok"], "the next sync is not stuck on them either"
