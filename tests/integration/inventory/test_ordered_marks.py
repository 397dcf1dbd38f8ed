"""One change's lifecycle marks of a machine, handled out of order (two inventory replicas,
a redelivery), end in the state of the newest: a mark that is not a legal move yet waits
for the one before it instead of being refused, and a mark older than the last applied is
stale and changes nothing. Found by the chaos suite: a node.add's ``joining`` handled before
its ``ready`` was refused, so the machine stayed ``ready`` although it had joined. Over the
real bus, against the inventory service."""
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
    mark("joining", 3)  # before its "ready": not a legal move from initializing yet
    mark("ready", 2)
    wait(lambda: state() == "joining", 60, "joining, once ready came")
    portal.call(bus.publish, command(msg.AssignMembership(change_id=change, machine=machine, cluster="ord-a",
                                                          roles=["worker"])))
    mark("member", 5)
    wait(lambda: state() == "member", 60, "member")
    stale = command(msg.TransitionMachine(change_id=change, machine=machine, state="ready", ordinal=4))
    portal.call(bus.publish, stale)  # older than the last applied (a late copy): stale
    db = inv.client.app.state.runtime.db

    def handled() -> bool:
        with db.engine.connect() as conn:
            return conn.execute(select(db.tables.processed.c.message_id)
                                .where(db.tables.processed.c.message_id == stale.id)).first() is not None
    wait(handled, 60, "the stale mark handled")
    assert state() == "member", "an older mark of the change never moves the machine back"
    moves = [m["data"]["to_state"] for m in events.snapshot() if m["type"] == msg.MachineStateChanged.TYPE
             and m["data"].get("machine") == machine]
    assert moves == ["initializing", "ready", "joining", "member"], moves
