"""P1 — a machine belongs to at most one cluster: enforced by the database, raced with
two imports adopted at the same moment on PostgreSQL; and the orchestrator's commands over the real
bus, each answered by one event (success, or a refusal with its problem slug)."""
from __future__ import annotations

import threading
import uuid

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.natsserver import EmbeddedNats  # noqa: F401 - documents the real server
from fixtures.signing import sign

from .conftest import LabCmdb


def one_node_yml(name: str, address: str) -> str:
    return yaml.safe_dump({"cluster_name": name, "nodes": [
        {"address": address, "user": "root", "role": ["etcd", "controlplane", "worker"],
         "hostname_override": f"{name}-n1"}]})


def test_p1_concurrent_placements_one_success_one_refusal(make_inventory, cmdb: LabCmdb, database):
    """Two approved imports placing the same machine in two clusters, adopted at the same
    moment (the imports are changes: H2): one places it, the other is refused whole."""
    if not database[0].startswith("postgresql"):
        pytest.skip("AUTORKE_TEST_DATABASE_URL is unset: the P1 race needs PostgreSQL's "
                    "concurrent transactions (CI sets it)")
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    target = inv.get("/api/v1/machines/cmdb-000042").json()
    changes = {}
    for name in ("race-a", "race-b"):
        assert inv.post("/api/v1/clusters", json={"name": name, "provider": "rke"}).status_code == 201
        r = inv.post(f"/api/v1/clusters/{name}:import", json={"cluster_yml": one_node_yml(name, target["ip"])})
        assert r.status_code == 202, r.text
        changes[name] = r.json()
    commands = inv.client.app.state.inventory.commands

    def ids(change: dict) -> dict:
        return {"change_id": change["id"], "cluster": change["cluster"], "proposal": change["params"]["proposal"],
                "digest": change["params"]["digest"]}

    for change in changes.values():
        commands.handle(sign(Envelope.of(msg.PreviewConfig(**ids(change)), source="orchestrator",
                                         correlation_id=change["id"], actor="orchestrator")))
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def adopt(name: str) -> None:
        env = sign(Envelope.of(msg.AdoptConfig(**ids(changes[name])), source="orchestrator",
                               correlation_id=changes[name]["id"], actor="orchestrator"))
        barrier.wait()
        results[name] = commands.handle(env)

    threads = [threading.Thread(target=adopt, args=(n,)) for n in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == sorted([msg.ConfigAdopted.TYPE, msg.CommandRefused.TYPE]), results
    winner = next(n for n, r in results.items() if r == msg.ConfigAdopted.TYPE)
    assert inv.get("/api/v1/machines/cmdb-000042").json()["cluster"] == winner
    loser = ({"race-a", "race-b"} - {winner}).pop()
    assert inv.get(f"/api/v1/clusters/{loser}/nodes").json()["items"] == []
    assert inv.get(f"/api/v1/clusters/{loser}/configs/cluster.yml").json()["items"] == []


def test_p1_database_constraint_refuses_a_second_membership(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True})
    for name in ("p1-a", "p1-b"):
        inv.post("/api/v1/clusters", json={"name": name, "provider": "rke2"})
    engine = inv.client.app.state.runtime.engine
    row = "(machine_id, cluster, roles, labels, taints, since)"
    values = "(:m, :c, 'worker', '{}', '[]', CURRENT_TIMESTAMP)"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO memberships {row} VALUES {values}"),
                     {"m": "cmdb-000001", "c": "p1-a"})
    with pytest.raises(IntegrityError), engine.begin() as conn:  # code bypassed: the DB says no
        conn.execute(text(f"INSERT INTO memberships {row} VALUES {values}"),
                     {"m": "cmdb-000001", "c": "p1-b"})


def command(c: msg.Command, actor: str = "alice") -> Envelope:
    return sign(Envelope.of(c, source="orchestrator", correlation_id=getattr(c, "change_id", None),
                            actor=actor))


def test_commands_over_the_bus_are_answered_once(make_inventory, cmdb: LabCmdb, events):
    inv = make_inventory(cmdb.url)
    inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True})
    for name in ("cmd-a", "cmd-b"):
        inv.post("/api/v1/clusters", json={"name": name, "provider": "rke2"})
    bus = inv.client.app.state.runtime.bus
    change = f"chg-{uuid.uuid4().hex[:8]}"
    sent = [
        command(msg.TransitionMachine(change_id=change, machine="cmdb-000003", state="ready")),
        command(msg.TransitionMachine(change_id=change, machine="cmdb-000003", state="joining")),
        command(msg.AssignMembership(change_id=change, machine="cmdb-000003", cluster="cmd-a",
                                     roles=["worker"], labels={"rack": "r1"},
                                     taints=[msg.Taint(key="gpu", value="true")])),
        command(msg.TransitionMachine(change_id=change, machine="cmdb-000003", state="member")),
        command(msg.AssignMembership(change_id=change, machine="cmdb-000003", cluster="cmd-b",
                                     roles=["worker"])),
        command(msg.TransitionMachine(change_id=change, machine="cmdb-000003",
                                      state="available")),
        command(msg.UpdateNode(change_id=change, machine="cmdb-000003", cluster="cmd-a",
                               labels={"rack": "r2"})),
        Envelope(type=msg.ReleaseMembership.TYPE, source="orchestrator",
                 subject=msg.ReleaseMembership.message_subject(),
                 data={"machine": "cmdb-000003", "cluster": "cmd-a"}),
        command(msg.StoreConfig(change_id=change, cluster="cmd-a", kind="cluster.yml",
                                content="nodes: []\n")),
    ]
    portal = inv.client.portal
    for env in sent:
        portal.call(bus.publish, env)
    portal.call(bus.publish, sent[0])  # a redelivered duplicate: no second answer
    ids = [e.id for e in sent]
    seen = events.wait_for(lambda ms: len({m["causation_id"] for m in ms
                                           if m.get("causation_id") in ids}) == len(ids))
    answers = {}
    for m in seen:
        if m.get("causation_id") in ids:
            answers.setdefault(m["causation_id"], []).append(m)
    assert all(len(a) == 1 for a in answers.values()), answers
    got = [(answers[i][0]["type"], answers[i][0]["data"].get("problem")) for i in ids]
    assert got == [
        (msg.MachineStateChanged.TYPE, None),
        (msg.MachineStateChanged.TYPE, None),
        (msg.MembershipChanged.TYPE, None),
        (msg.MachineStateChanged.TYPE, None),
        (msg.CommandRefused.TYPE, "machine-in-other-cluster"),
        (msg.CommandRefused.TYPE, "illegal-state-transition"),
        (msg.MembershipChanged.TYPE, None),
        (msg.CommandRefused.TYPE, "no-open-change"),
        (msg.CommandRefused.TYPE, "invalid-cluster-config"),
    ]
    assert all(answers[i][0]["correlation_id"] in (change, None) for i in ids)
    machine = inv.get("/api/v1/machines/cmdb-000003").json()
    assert (machine["cluster"], machine["state"], machine["labels"]) == ("cmd-a", "member",
                                                                          {"rack": "r2"})
    assert machine["taints"] == [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]


def test_c2_an_unsigned_membership_command_over_the_bus_is_refused(make_inventory, cmdb: LabCmdb, events):
    """C2: ``inventory.membership.assign`` with a made-up change id, published by anyone
    (unsigned, or signed with a key the inventory does not trust), is refused with its
    slug and places nothing; the same command signed by the orchestrator is applied."""
    inv = make_inventory(cmdb.url)
    inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True})
    inv.post("/api/v1/clusters", json={"name": "c2-a", "provider": "rke2"})
    bus = inv.client.app.state.runtime.bus
    assign = msg.AssignMembership(change_id="x", machine="cmdb-000004", cluster="c2-a", roles=["worker"])
    forged = [Envelope.of(assign, source="orchestrator", correlation_id="x"),
              sign(Envelope.of(assign, source="orchestrator", correlation_id="x"), "intruder"),
              sign(Envelope.of(assign, source="orchestrator", correlation_id="x"), "inventory")]
    for env in forged:
        inv.client.portal.call(bus.publish, env)
    ids = [e.id for e in forged]
    seen = events.wait_for(lambda ms: len({m["causation_id"] for m in ms if m.get("causation_id") in ids}) == 3)
    answers = {m["causation_id"]: m for m in seen if m.get("causation_id") in ids}
    assert [(answers[i]["type"], answers[i]["data"]["problem"]) for i in ids] == [
        (msg.CommandRefused.TYPE, "unsigned-command"), (msg.CommandRefused.TYPE, "bad-signature"),
        (msg.CommandRefused.TYPE, "bad-signature")]
    assert inv.get("/api/v1/machines/cmdb-000004").json()["cluster"] is None

    good = command(assign)
    inv.client.portal.call(bus.publish, good)
    events.wait_for(lambda ms: any(m.get("causation_id") == good.id and m["type"] == msg.MembershipChanged.TYPE
                                   for m in ms))
    assert inv.get("/api/v1/machines/cmdb-000004").json()["cluster"] == "c2-a"
