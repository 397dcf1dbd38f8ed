"""The bus across a NATS restart and at shutdown: a consumer keeps consuming after the
server comes back, and closing the bus finishes and acks the message in hand, so it is
not delivered again."""
from __future__ import annotations

import asyncio
import uuid

import pytest

from autorke_common.bus import Bus, ConsumerSpec
from autorke_common.envelope import Envelope

from .probe_service import ProbeHappened
from .test_bus_outbox import wait_for

pytestmark = pytest.mark.asyncio


def probe(subject: str, n: int) -> Envelope:
    env = Envelope.of(ProbeHappened(n=n), source="probe")
    env.subject = subject
    return env


async def test_consumer_resumes_after_nats_restart(fresh_nats):
    subject = f"autorke.events.probe.restart.{uuid.uuid4().hex[:8]}"
    bus = Bus(fresh_nats.url, "probe")
    await bus.connect()
    seen: list[int] = []

    async def handler(env, _d):
        seen.append(env.data["n"])

    try:
        bus.subscribe(ConsumerSpec(durable="restart_probe", subject=subject, handler=handler))
        await bus.publish(probe(subject, 1))
        await wait_for(lambda: seen == [1])
        fresh_nats.stop()
        await asyncio.sleep(1.0)
        fresh_nats.start()
        await wait_for(lambda: bus.connected, timeout=20)
        await wait_for(lambda: asyncio.ensure_future(_publish_ok(bus, probe(subject, 2))), timeout=20)
        await wait_for(lambda: 2 in seen, timeout=20)
        assert seen == [1, 2]
    finally:
        await bus.close()


async def _publish_ok(bus: Bus, env: Envelope) -> bool:
    try:
        await bus.publish(env, timeout=1.0)
        return True
    except Exception:  # noqa: BLE001 - the stream may not answer for a moment after restart
        return False


async def test_close_finishes_the_message_in_hand(nats_server):
    token = uuid.uuid4().hex[:8]
    subject = f"autorke.events.probe.drain.{token}"
    durable = f"drain_{token}"
    first = Bus(nats_server.url, "probe-a")
    await first.connect()
    started, finished = asyncio.Event(), []

    async def slow(env, _d):
        started.set()
        await asyncio.sleep(1.0)
        finished.append(env.id)

    first.subscribe(ConsumerSpec(durable=durable, subject=subject, handler=slow, ack_wait_s=2.0))
    env = probe(subject, 5)
    await first.publish(env)
    await asyncio.wait_for(started.wait(), 10)
    await first.close()
    assert finished == [env.id], "the handler ran to the end before the bus closed"

    again: list[str] = []
    second = Bus(nats_server.url, "probe-b")
    await second.connect()

    async def record(e, _d):
        again.append(e.id)

    try:
        second.subscribe(ConsumerSpec(durable=durable, subject=subject, handler=record, ack_wait_s=2.0))
        await asyncio.sleep(3.5)  # past ack_wait: an unacked message would be back by now
        assert again == []
    finally:
        await second.close()


async def test_a_long_handler_does_not_hold_back_the_others(nats_server):
    token = uuid.uuid4().hex[:8]
    subject = f"autorke.events.probe.concurrent.{token}"
    bus = Bus(nats_server.url, "probe")
    await bus.connect()
    release = asyncio.Event()
    done: list[int] = []

    async def handler(env, _d):
        if env.data["n"] == 0:
            await release.wait()  # the long job
        done.append(env.data["n"])

    try:
        bus.subscribe(ConsumerSpec(durable=f"conc_{token}", subject=subject, handler=handler,
                                   concurrency=4, ack_wait_s=30))
        await bus.publish(probe(subject, 0))
        await asyncio.sleep(0.5)
        for n in range(1, 6):
            await bus.publish(probe(subject, n))
        await wait_for(lambda: sorted(done) == [1, 2, 3, 4, 5], timeout=20)
        assert 0 not in done, "the long job is still running while the others finished"
        release.set()
        await wait_for(lambda: 0 in done, timeout=10)
    finally:
        release.set()
        await bus.close()
