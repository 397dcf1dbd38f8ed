"""A trace started in one service shows the same trace id in the consumer of its event,
through the outbox (the context is stored with the row) and across NATS headers."""
from __future__ import annotations

import uuid

import pytest
from opentelemetry import trace
from sqlalchemy import select

from autorke_common.bus import Bus, ConsumerSpec
from autorke_common.envelope import Envelope
from autorke_common.relay import OutboxRelay
from autorke_common.telemetry import current_trace_id, setup_tracing

from .probe_service import ProbeHappened, build_db, make_handler
from .test_bus_outbox import wait_for

pytestmark = pytest.mark.asyncio


async def test_trace_id_crosses_outbox_and_bus(nats_server, database):
    setup_tracing("probe", exporter="none")
    url, schema = database
    producer_db, _ = build_db(url, schema)
    consumer_db, effects = build_db(url, schema + "c")
    producer, consumer = Bus(nats_server.url, "producer"), Bus(nats_server.url, "consumer")
    await producer.connect()
    await consumer.connect()
    relay = OutboxRelay(producer_db, producer, lock_name=f"outbox:{schema}", poll_interval=0.2)
    relay.start()
    token = uuid.uuid4().hex[:8]
    durable = f"trace_{token}"
    try:
        with trace.get_tracer("test").start_as_current_span("POST /api/v1/changes"):
            started = current_trace_id()
            env = Envelope.of(ProbeHappened(n=42), source="producer")
            env.subject = f"autorke.events.probe.traced.{token}"
            with producer_db.unit_of_work() as uow:
                uow.emit(env)
                uow.commit()
        assert started
        consumer.subscribe(ConsumerSpec(durable=durable, subject=env.subject,
                                        handler=make_handler(consumer_db, effects, durable)))

        def traced() -> str | None:
            with consumer_db.engine.connect() as conn:
                return conn.execute(select(effects.c.trace_id).where(effects.c.message_id == env.id)).scalar()

        seen = await wait_for(traced, timeout=20)
        assert seen == started
    finally:
        await relay.stop()
        await producer.close()
        await consumer.close()
        producer_db.engine.dispose()
        consumer_db.engine.dispose()
