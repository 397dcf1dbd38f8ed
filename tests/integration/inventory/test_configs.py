"""P3 config store: cluster.yml rendered from the inventory on a change's command,
versioned with who/which change/hash, diffed, rolled back as a new version (within a
config.rollback change: nothing is current before it adopts the rollback); a render that
breaks RKE's rules (an even etcd count) is refused and nothing is stored."""
from __future__ import annotations

import uuid

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import LabCmdb, adopt


def handle(inv, c: msg.Command) -> str:
    env = Envelope.of(c, source="orchestrator", correlation_id=c.change_id, actor="bob")
    return inv.client.app.state.inventory.commands.handle(sign(env))


def test_p3_rendered_versions_diff_and_rollback(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True})
    inv.post("/api/v1/clusters", json={"name": "cfg", "provider": "rke"})
    change = f"chg-{uuid.uuid4().hex[:8]}"
    assign = msg.AssignMembership(change_id=change, machine="cmdb-000001", cluster="cfg",
                                  roles=["etcd", "controlplane", "worker"])
    assert handle(inv, assign) == msg.MembershipChanged.TYPE
    store = msg.StoreConfig(change_id=change, cluster="cfg", kind="cluster.yml", render=True)
    assert handle(inv, store) == msg.ConfigVersioned.TYPE

    # a second etcd member makes the count even: the render is refused, nothing stored
    handle(inv, msg.AssignMembership(change_id=change, machine="cmdb-000002", cluster="cfg",
                                     roles=["etcd"]))
    r = inv.get("/api/v1/clusters/cfg/configs/cluster.yml:render")
    assert r.status_code == 422 and r.json()["rule"] == "even-etcd"
    assert handle(inv, store) == msg.CommandRefused.TYPE
    handle(inv, msg.AssignMembership(change_id=change, machine="cmdb-000002", cluster="cfg",
                                     roles=["worker"], labels={"pool": "gpu"}))
    assert handle(inv, store) == msg.ConfigVersioned.TYPE

    versions = inv.get("/api/v1/clusters/cfg/configs/cluster.yml").json()["items"]
    assert [(v["version"], v["change_id"], v["created_by"]) for v in versions] == [
        (1, change, "bob"), (2, change, "bob")]
    assert versions[0]["content_hash"] != versions[1]["content_hash"]
    diff = inv.get("/api/v1/clusters/cfg/configs/cluster.yml:diff",
                   params={"from": 1, "to": 2}).json()["diff"]
    assert "+  labels:" in diff and "pool: gpu" in diff
    rolled = inv.post("/api/v1/clusters/cfg/configs/cluster.yml:rollback", json={"to": 1})
    assert rolled.status_code == 202 and rolled.json()["type"] == "config.rollback", rolled.text
    assert len(inv.get("/api/v1/clusters/cfg/configs/cluster.yml").json()["items"]) == 2  # not yet (H2)
    assert adopt(inv, rolled.json()) == (msg.ConfigPreviewed.TYPE, msg.ConfigAdopted.TYPE)
    latest = inv.get("/api/v1/clusters/cfg/configs/cluster.yml").json()["items"][-1]
    assert (latest["version"], latest["rollback_of"], latest["change_id"]) == (3, 1, rolled.json()["id"])
    assert latest["content_hash"] == versions[0]["content_hash"]
    assert inv.get("/api/v1/clusters/cfg/configs/cluster.yml:diff",
                   params={"from": 1, "to": 3}).json()["diff"] == ""
