"""A tiny service used only by the foundation tests: one table of effects, the outbox, and
a consumer whose handler records each message's effect once. It can run in the test
process or as a child process (``python probe_service.py ...``) that dies before acking."""
from __future__ import annotations

import argparse
import asyncio
import os
import sys

from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from autorke_common.bus import Bus, ConsumerSpec, Delivery
from autorke_common.catalogue import Event
from autorke_common.db import make_engine
from autorke_common.envelope import Envelope
from autorke_common.outbox import Database, add_outbox_tables
from autorke_common.telemetry import current_trace_id


class ProbeHappened(Event):
    TYPE = "probe.thing.happened"
    n: int
    poison: bool = False


def build_db(url: str, schema: str) -> tuple[Database, Table]:
    metadata = MetaData()
    effects = Table(
        "effects", metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("message_id", String(64), nullable=False),
        Column("n", Integer, nullable=False),
        Column("trace_id", String(32)),
    )
    tables = add_outbox_tables(metadata)
    engine = make_engine(url, schema=schema)
    metadata.create_all(engine)
    return Database(engine, tables), effects


def effect_count(db: Database, effects: Table, message_id: str | None = None) -> int:
    q = select(func.count()).select_from(effects)
    if message_id:
        q = q.where(effects.c.message_id == message_id)
    with db.engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def make_handler(db: Database, effects: Table, consumer: str, die_before_ack: bool = False):
    async def handle(env: Envelope, delivery: Delivery) -> None:
        msg = env.parsed()
        if getattr(msg, "poison", False):
            raise ValueError(f"poison message {msg.n}")

        def apply() -> None:
            with db.unit_of_work() as uow:
                if uow.already_processed(consumer, env.id):
                    return
                uow.session.execute(insert(effects).values(message_id=env.id, n=msg.n,
                                                           trace_id=current_trace_id()))
                uow.commit()

        await asyncio.to_thread(apply)
        if die_before_ack:
            os._exit(17)  # the effect is committed, the ack is never sent

    return handle


async def _main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--nats"), p.add_argument("--db"), p.add_argument("--schema")
    p.add_argument("--durable"), p.add_argument("--subject")
    p.add_argument("--die-before-ack", action="store_true")
    a = p.parse_args(argv)
    db, effects = build_db(a.db, a.schema)
    bus = Bus(a.nats, "probe-child")
    await bus.connect()
    bus.subscribe(ConsumerSpec(durable=a.durable, subject=a.subject, ack_wait_s=1.0, max_deliver=5,
                               handler=make_handler(db, effects, a.durable, a.die_before_ack)))
    await asyncio.sleep(30)
    await bus.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
