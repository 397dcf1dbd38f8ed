"""H7, against a real NATS server and a real database: an outbox row that can never be
published (here larger than the server's ``max_payload``, as a sealed rkestate of a large
cluster would be) no longer blocks every later event of the service. It is parked with its
reason, an ``autorke.events.bus.outbox.parked`` alert names it, and the rows after it are
published in order. Published rows and old processed marks are purged; parked rows stay."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from autorke_common.bus import Bus, ConsumerSpec, Delivery
from autorke_common.envelope import Envelope, utcnow
from autorke_common.relay import OutboxRelay

from .probe_service import ProbeHappened, build_db
from .test_bus_outbox import wait_for

pytestmark = pytest.mark.asyncio


def _emit(db, env: Envelope, payload: str | None = None) -> None:
    """What a unit of work writes; ``payload`` stands in for an oversized one."""
    with db.unit_of_work() as uow:
        uow.session.execute(insert(db.tables.outbox).values(
            id=env.id, subject=env.subject, aggregate="c-1", payload=payload or env.model_dump_json(),
            headers="{}", created_at=utcnow()))
        uow.commit()


async def test_h7_an_unpublishable_row_is_parked_and_the_rows_after_it_go_on(fresh_nats, database):
    url, schema = database
    db, _ = build_db(url, schema)
    bus = Bus(fresh_nats.url, "probe")
    await bus.connect()
    received: list[str] = []
    alerts: list[dict] = []

    async def on_probe(env: Envelope, _: Delivery) -> None:
        received.append(env.id)

    async def on_alert(env: Envelope, _: Delivery) -> None:
        alerts.append(env.data)

    bus.subscribe(ConsumerSpec(durable=f"probe_{uuid.uuid4().hex[:8]}", subject="autorke.events.probe.>",
                               handler=on_probe))
    bus.subscribe(ConsumerSpec(durable=f"alerts_{uuid.uuid4().hex[:8]}", subject="autorke.events.bus.outbox.>",
                               handler=on_alert))
    before, huge, after = (Envelope.of(ProbeHappened(n=n), source="probe") for n in (1, 2, 3))
    big = json.loads(huge.model_dump_json())
    big["data"]["padding"] = "x" * (2 * 1024 * 1024)  # over the server's 1 MiB max_payload
    _emit(db, before)
    _emit(db, huge, json.dumps(big))
    _emit(db, after)
    relay = OutboxRelay(db, bus, lock_name=f"outbox:{schema}", poll_interval=0.2)
    relay.start()
    try:
        await wait_for(lambda: received == [before.id, after.id], timeout=30)
        await wait_for(lambda: alerts, timeout=30)
        t = db.tables.outbox
        with db.engine.connect() as conn:
            parked = conn.execute(select(t.c.seq, t.c.parked_at, t.c.park_reason).where(t.c.id == huge.id)).one()
            unpublished = conn.execute(select(t.c.id).where(t.c.published_at.is_(None))).all()
        assert parked.parked_at is not None and "MaxPayload" in parked.park_reason
        assert unpublished == [], "nothing is left waiting behind the parked row"
        [alert] = alerts
        assert (alert["seq"], alert["message_id"], alert["service"]) == (parked.seq, huge.id, "probe")
        assert alert["size"] > 2 * 1024 * 1024 and "padding" not in json.dumps(alert), "no payload in the alert"
        assert relay.parked == 1 and relay.published == 2

        # purge: old published rows and old marks go; the parked row stays for an operator
        long_ago = utcnow() - timedelta(days=30)
        with db.engine.begin() as conn:
            conn.execute(update(t).values(published_at=long_ago))
            conn.execute(update(t).where(t.c.id == after.id).values(published_at=utcnow()))
            conn.execute(insert(db.tables.processed).values(consumer="probe", message_id="old", processed_at=long_ago))
            conn.execute(insert(db.tables.processed).values(consumer="probe", message_id="new", processed_at=utcnow()))
        assert await asyncio.to_thread(relay.purge) == (1, 1)
        with db.engine.connect() as conn:
            kept = {r.id for r in conn.execute(select(t.c.id))}
            marks = {r.message_id for r in conn.execute(select(db.tables.processed.c.message_id))}
        assert kept == {huge.id, after.id} and marks == {"new"}
    finally:
        await relay.stop()
        await bus.close()
