"""One error family at the bus, against a real NATS server: a refusal that can never
change (a domain refusal, a Problem below 500) is dead-lettered at its first delivery with
its slug; a failure that may pass (a Problem of 500 or more, a broken invariant's bug
aside) is redelivered; a plain ``def`` handler runs in a worker thread."""
from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from autorke_common.bus import Bus, ConsumerSpec
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, Invalid, Problem

from .probe_service import ProbeHappened
from .test_bus_outbox import wait_for

pytestmark = pytest.mark.asyncio
DEAD = "autorke.events.bus.message.dead_lettered"


@pytest.mark.parametrize("refusal, slug", [
    (Conflict("machine-in-another-cluster", "m001 is a member of rke2-lab"), "machine-in-another-cluster"),
    (Invalid("invalid-label", "bad key", field="labels"), "invalid-label"),
    (Problem("not-found", "Not found", 404, "cluster 'x' does not exist"), "not-found"),
])
async def test_a_permanent_refusal_is_dead_lettered_at_the_first_delivery_with_its_slug(nats_server, refusal, slug):
    token = uuid.uuid4().hex[:8]
    subject, durable = f"autorke.events.probe.refused.{token}", f"probe_{token}"
    bus = Bus(nats_server.url, "probe")
    await bus.connect()
    dead: list[Envelope] = []
    calls: list[str] = []
    main_thread = threading.get_ident()

    def refuse(env: Envelope, _delivery) -> None:  # a plain def: the bus runs it in a thread
        calls.append("thread" if threading.get_ident() != main_thread else "loop")
        raise refusal

    async def on_dead(env: Envelope, _d) -> None:
        if env.data["consumer"] == durable:
            dead.append(env)

    try:
        bus.subscribe(ConsumerSpec(durable=f"dlq_{token}", subject=DEAD, handler=on_dead, deliver_new_only=True))
        bus.subscribe(ConsumerSpec(durable=durable, subject=subject, handler=refuse, run_in_thread=True,
                                   max_deliver=5, backoff_s=(0.2,)))
        env = Envelope.of(ProbeHappened(n=1), source="probe")
        env.subject = subject
        await bus.publish(env)
        await wait_for(lambda: dead, timeout=20)
        assert dead[0].data["deliveries"] == 1, "refused the same way every time: not redelivered"
        assert dead[0].data["error"].startswith(f"permanent: {slug}: ")
        assert calls == ["thread"]
    finally:
        await bus.close()


async def test_a_server_side_problem_is_redelivered(nats_server):
    token = uuid.uuid4().hex[:8]
    subject, durable = f"autorke.events.probe.flaky.{token}", f"probe_{token}"
    bus = Bus(nats_server.url, "probe")
    await bus.connect()
    deliveries: list[int] = []

    def flaky(env: Envelope, delivery) -> None:
        deliveries.append(delivery.deliveries)
        if delivery.deliveries < 3:
            raise Problem("upstream-unavailable", "Upstream unavailable", 503, "the CMDB did not answer")

    try:
        bus.subscribe(ConsumerSpec(durable=durable, subject=subject, handler=flaky, run_in_thread=True,
                                   max_deliver=5, backoff_s=(0.2,)))
        env = Envelope.of(ProbeHappened(n=2), source="probe")
        env.subject = subject
        await bus.publish(env)
        await wait_for(lambda: len(deliveries) >= 3, timeout=20)
        await asyncio.sleep(0)  # let the third handler's ack go out
        assert deliveries[:3] == [1, 2, 3]
    finally:
        await bus.close()
