"""One change's lifecycle marks of a machine, handled out of order (two inventory replicas,
a redelivery), end in the state of the newest: a newer mark moves the machine along a legal
path (standing for the marks not handled yet), one the membership does not allow yet waits
for it, and a mark older than the last applied is stale and changes nothing. Found by the
chaos suite: a node.add's ``joining`` handled before its ``ready`` was refused, so the
machine stayed ``ready`` although it had joined; a node.remove's ``removing`` redelivered
after the release could never apply, nor the marks after it, so the machine stayed
``draining``. Over the real bus, against the inventory service."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from autorke_common.catalogue import inventory as msg
from fixtures.waiting import wait

from .conftest import LabCmdb
from .test_membership import command


def test_marks_out_of_order_end_in_the_newest_state(make_inventory, cmdb: LabCmdb, events):
    inv = make_inventory(cmdb.url)
    inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True})
    inv.post("/api/v1/clusters", json={"name": "ord-a", "provider": "rke2"})
    bus, portal = inv.client.app.state.runtime.bus, inv.client.portal
    change, machine = f"chg-{uuid.uuid4().hex[:8]}", "cmdb-000005"

    def mark(state: str, ordinal: int) -> None:
        portal.call(bus.publish, command(msg.TransitionMachine(change_id=change, machine=machine, state=state,
                                                               ordinal=ordinal)))

    def state() -> str:
        return inv.get(f"/api/v1/machines/{machine}").json()["state"]

    mark("initializing", 1)
    wait(lambda: state() == "initializing", 30, "initializing")
    mark("joining", 3)  # before its "ready": the way from initializing goes through ready
    wait(lambda: state() == "joining", 60, "joining, ahead of its ready")
    mark("member", 5)  # before the assignment: waits for it
    portal.call(bus.publish, command(msg.AssignMembership(change_id=change, machine=machine, cluster="ord-a",
                                                          roles=["worker"])))
    wait(lambda: state() == "member", 90, "member, once assigned")
    db = inv.client.app.state.runtime.db

    def handled(env) -> bool:
        with db.engine.connect() as conn:
            return conn.execute(select(db.tables.processed.c.message_id)
                                .where(db.tables.processed.c.message_id == env.id)).first() is not None
    for late in (command(msg.TransitionMachine(change_id=change, machine=machine, state="ready", ordinal=2)),
                 command(msg.TransitionMachine(change_id=change, machine=machine, state="ready", ordinal=4))):
        portal.call(bus.publish, late)  # older than the last applied (a late copy): stale
        wait(lambda late=late: handled(late), 60, "the stale mark handled")
    assert state() == "member", "an older mark of the change never moves the machine back"

    # node.remove: drained, released, and its "removing" comes after the release
    mark("draining", 6)
    wait(lambda: state() == "draining", 60, "draining")
    portal.call(bus.publish, command(msg.ReleaseMembership(change_id=change, machine=machine, cluster="ord-a")))
    wait(lambda: not inv.get(f"/api/v1/machines/{machine}").json().get("cluster"), 60, "released")
    mark("removing", 7)  # needs a member: waits, and is overtaken by the cleanup's marks
    mark("cleaning", 8)
    wait(lambda: state() == "cleaning", 60, "cleaning, through removing")
    mark("available", 9)
    wait(lambda: state() == "available", 60, "available")
    moves = [m["data"]["to_state"] for m in events.snapshot() if m["type"] == msg.MachineStateChanged.TYPE
             and m["data"].get("machine") == machine]
    assert moves == ["initializing", "joining", "member", "draining", "cleaning", "available"], moves
