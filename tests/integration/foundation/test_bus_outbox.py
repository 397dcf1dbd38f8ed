"""The foundation's delivery guarantees, against a real NATS server and a real database:
outbox survives NATS being down, duplicates are dropped, a consumer that dies before
acking gets the message again with one effect, a poison message is dead-lettered without
blocking the rest, and the trace id crosses the bus."""
from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from autorke_common.bus import EVENTS_STREAM, Bus, ConsumerSpec
from autorke_common.envelope import Envelope
from autorke_common.relay import OutboxRelay

from .probe_service import ProbeHappened, build_db, effect_count, make_handler

pytestmark = pytest.mark.asyncio


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


def unique_subject() -> tuple[str, str]:
    token = uuid.uuid4().hex[:8]
    return "autorke.events.probe.thing.happened", f"probe_{token}"


async def test_outbox_event_written_while_nats_down_is_published_once_back(fresh_nats, database):
    url, schema = database
    db, effects = build_db(url, schema)
    bus = Bus(fresh_nats.url, "probe")
    await bus.connect()
    relay = OutboxRelay(db, bus, lock_name=f"outbox:{schema}", poll_interval=0.2)
    relay.start()
    try:
        fresh_nats.stop()
        env = Envelope.of(ProbeHappened(n=1), source="probe", correlation_id="c-1")
        with db.unit_of_work() as uow:
            uow.emit(env)
            uow.commit()
        await asyncio.sleep(1.5)  # the relay tries and fails while the server is away
        t = db.tables.outbox
        with db.engine.connect() as conn:
            assert conn.execute(select(t.c.published_at).where(t.c.id == env.id)).scalar() is None

        fresh_nats.start()
        await wait_for(lambda: relay.published >= 1, timeout=30)

        # A crash between publish and mark: the relay publishes the same row again.
        with db.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == env.id).values(published_at=None))
        relay._wake_threadsafe()
        await wait_for(lambda: relay.published >= 2, timeout=10)

        durable = f"probe_{uuid.uuid4().hex[:8]}"
        bus.subscribe(ConsumerSpec(durable=durable, subject=env.subject,
                                   handler=make_handler(db, effects, durable)))
        await wait_for(lambda: effect_count(db, effects, env.id) == 1)
        await asyncio.sleep(1.0)
        assert effect_count(db, effects, env.id) == 1
        info = await bus.js.stream_info(EVENTS_STREAM)
        assert info.state.messages == 1, "the republished copy was dropped by Nats-Msg-Id"
    finally:
        await relay.stop()
        await bus.close()
        db.engine.dispose()


async def test_consumer_that_dies_before_ack_gets_message_again_with_one_effect(nats_server, database):
    url, schema = database
    db, effects = build_db(url, schema)
    subject = f"autorke.events.probe.death.{uuid.uuid4().hex[:8]}"
    durable = f"probe_{uuid.uuid4().hex[:8]}"
    child = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, str(Path(__file__).with_name("probe_service.py")), "--nats", nats_server.url,
         "--db", url, "--schema", schema, "--durable", durable, "--subject", subject, "--die-before-ack"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    bus = Bus(nats_server.url, "probe")
    await bus.connect()
    try:
        await asyncio.sleep(1.0)  # the child has created the durable consumer
        env = Envelope.of(ProbeHappened(n=7), source="probe")
        env.subject = subject
        await bus.publish(env)
        rc = await asyncio.to_thread(child.wait, 30)
        assert rc == 17, child.stdout.read().decode()
        assert effect_count(db, effects, env.id) == 1

        seen: list[int] = []
        handler = make_handler(db, effects, durable)

        async def counting(e, d):
            seen.append(d.deliveries)
            await handler(e, d)

        bus.subscribe(ConsumerSpec(durable=durable, subject=subject, handler=counting, ack_wait_s=1.0))
        await wait_for(lambda: seen, timeout=20)
        assert seen[0] >= 2, "the message came back after the consumer died"
        await asyncio.sleep(2.5)  # past ack_wait: no further redelivery once acked
        assert len(seen) == 1
        assert effect_count(db, effects, env.id) == 1
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        await bus.close()
        db.engine.dispose()


async def test_poison_message_is_dead_lettered_and_does_not_block_the_next(nats_server, database):
    url, schema = database
    db, effects = build_db(url, schema)
    token = uuid.uuid4().hex[:8]
    subject = f"autorke.events.probe.poison.{token}"
    durable = f"probe_{token}"
    bus = Bus(nats_server.url, "probe")
    await bus.connect()
    dead: list[Envelope] = []

    async def on_dead(env, _d):
        if env.data["consumer"] == durable:
            dead.append(env)

    try:
        bus.subscribe(ConsumerSpec(durable=f"dlq_{token}", subject="autorke.events.bus.message.dead_lettered",
                                   handler=on_dead, deliver_new_only=True))
        bus.subscribe(ConsumerSpec(durable=durable, subject=subject, max_deliver=3, backoff_s=(0.2,),
                                   handler=make_handler(db, effects, durable)))
        poison = Envelope.of(ProbeHappened(n=0, poison=True), source="probe")
        good = [Envelope.of(ProbeHappened(n=i), source="probe") for i in range(1, 4)]
        for env in [poison, *good]:
            env.subject = subject
            await bus.publish(env)
        await wait_for(lambda: all(effect_count(db, effects, g.id) == 1 for g in good), timeout=20)
        await wait_for(lambda: dead, timeout=20)
        assert dead[0].data["message_id"] == poison.id
        assert dead[0].data["deliveries"] == 3
        assert "poison message" in dead[0].data["error"]
        assert effect_count(db, effects, poison.id) == 0
    finally:
        await bus.close()
        db.engine.dispose()
