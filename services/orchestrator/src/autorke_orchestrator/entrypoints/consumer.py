"""The orchestrator's bus subscriptions: the executor's job reports and the inventory's
events (read model and answers to our commands). Ordered (one message at a time per
consumer), so a target's result is recorded before its job's summary."""
from __future__ import annotations

import asyncio

from autorke_common.bus import EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.catalogue.executor import JobFinished, TargetFinished
from autorke_common.envelope import Envelope
from autorke_common.outbox import Database

from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers, projection

EXECUTOR_CONSUMER = "orchestrator-executor"


def executor_reports(db: Database) -> ConsumerSpec:
    async def handle(env: Envelope, _: Delivery) -> None:
        if env.type not in (TargetFinished.TYPE, JobFinished.TYPE):
            return
        msg = env.parsed()
        if isinstance(msg, TargetFinished):
            outcomes = {msg.host: Outcome(msg.status, msg.error, msg.error_class, msg.result)}
        else:
            outcomes = {t.host: Outcome(t.status, t.error, t.error_class) for t in msg.targets}
            if msg.error and not msg.targets:  # the job could not run at all: every target failed
                outcomes = {handlers.EVERY_TARGET: Outcome("failed", msg.error, "failed")}
        await asyncio.to_thread(handlers.take_results, db, EXECUTOR_CONSUMER, env.id, msg.job_id, outcomes)

    return ConsumerSpec(durable=EXECUTOR_CONSUMER, subject="autorke.events.executor.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0))


def inventory_events(db: Database) -> ConsumerSpec:
    async def handle(env: Envelope, _: Delivery) -> None:
        await asyncio.to_thread(projection.handle, db, env)

    return ConsumerSpec(durable="orchestrator-inventory", subject="autorke.events.inventory.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0))
