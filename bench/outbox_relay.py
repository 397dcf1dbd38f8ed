"""The outbox relay on PostgreSQL: throughput and publish->consume latency, side by side with
publishing straight to JetStream (what a service without an outbox would do, losing the
event when it dies between its commit and its publish).

* **throughput**: N events written by units of work of 100 (one commit each, as a burst of
  changes would), while the relay runs; events/s from the first commit until the last row is
  marked published. Baseline: the same N envelopes published one by one with ``js.publish``
  (awaiting each ack, as the relay does).
* **latency**: events written one per unit of work at a steady rate; the time from the
  unit's commit to a durable JetStream consumer (``Bus.subscribe``, as every service
  consumes) receiving it; p50/p99.

Goal (issue 17): >= 5,000 events/s and p99 < 50 ms on this machine.

    uv run --no-sync python bench/outbox_relay.py [--events 20000] [--repeat 3]

Needs PostgreSQL on 127.0.0.1:5432 (trust; ``--database-url`` for another): a database of its
own is created and dropped. Writes its section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

from _results import write_section  # bench/ is on sys.path when a script runs
from sqlalchemy import MetaData, create_engine, text

from autorke_common.bus import Bus, ConsumerSpec, Delivery
from autorke_common.catalogue.bus import MessageDeadLettered, OutboxRowParked  # two registered event types
from autorke_common.db import make_engine
from autorke_common.envelope import Envelope
from autorke_common.natsserver import EmbeddedNats
from autorke_common.outbox import Database, add_outbox_tables
from autorke_common.relay import OutboxRelay

BEGIN, END = "<!-- outbox_relay:begin -->", "<!-- outbox_relay:end -->"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def envelope(n: int) -> Envelope:
    """A throughput event (its subject: autorke.events.bus.outbox.parked)."""
    return Envelope.of(OutboxRowParked(service="bench", seq=n, message_id=f"m{n}", subject="s", size=1,
                                       error="bench"), source="bench")


def timed(n: int) -> Envelope:
    """A latency event, on a subject of its own (autorke.events.bus.message.dead_lettered)."""
    return Envelope.of(MessageDeadLettered(consumer="bench", stream="s", subject="s", message_id=f"t{n}",
                                           deliveries=1, error="bench", payload="{}"), source="bench")


def write(db: Database, envs: list[Envelope], stamps: dict[str, float] | None = None) -> None:
    with db.unit_of_work() as uow:
        for env in envs:
            uow.emit(env, aggregate="bench")
        uow.commit()
    if stamps is not None:
        now = time.perf_counter()
        for env in envs:
            stamps[env.id] = now


async def relay_throughput(db: Database, bus: Bus, n: int) -> float:
    relay = OutboxRelay(db, bus, lock_name=f"bench:{uuid.uuid4().hex}", poll_interval=0.05)
    envs = [envelope(i) for i in range(n)]
    relay.start()
    start = time.perf_counter()
    for i in range(0, n, 100):
        await asyncio.to_thread(write, db, envs[i:i + 100])
    deadline = time.monotonic() + 300
    while relay.published < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the relay published {relay.published} of {n} rows in 300 s")
        await asyncio.sleep(0.005)
    took = time.perf_counter() - start
    await relay.stop()
    return n / took


async def direct_throughput(bus: Bus, n: int) -> float:
    envs = [envelope(i) for i in range(n)]
    start = time.perf_counter()
    for env in envs:
        await bus.publish_raw(env.subject, env.model_dump_json().encode(), env.id, {})
    return n / (time.perf_counter() - start)


class Latency:
    """One durable consumer for every latency round (as a service consumes)."""

    def __init__(self, bus: Bus) -> None:
        self.bus, self.seen = bus, {}

    def start(self) -> None:
        async def on_event(env: Envelope, _: Delivery) -> None:
            self.seen[env.id] = time.perf_counter()
        self.bus.subscribe(ConsumerSpec(durable=f"bench_{uuid.uuid4().hex[:8]}",
                                        subject="autorke.events.bus.message.>", handler=on_event))

    async def round(self, db: Database, n: int, rate: float, first: int) -> list[float]:
        stamps: dict[str, float] = {}
        relay = OutboxRelay(db, self.bus, lock_name=f"bench:{uuid.uuid4().hex}", poll_interval=0.05)
        relay.start()
        for i in range(n):
            await asyncio.to_thread(write, db, [timed(first + i)], stamps)
            await asyncio.sleep(1.0 / rate)
        deadline = time.monotonic() + 60
        while not set(stamps) <= set(self.seen) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await relay.stop()
        return sorted((self.seen[i] - stamps[i]) * 1000 for i in stamps if i in self.seen)


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def run(args: argparse.Namespace) -> dict:
    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{args.server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = Path(f"/tmp/{name}")
    nats = EmbeddedNats(folder / "nats").start()
    try:
        metadata = MetaData()
        tables = add_outbox_tables(metadata)
        engine = make_engine(f"{args.server}/{name}", schema="bench")
        metadata.create_all(engine)
        db = Database(engine, tables)
        bus = Bus(nats.url, "bench")
        await bus.connect()
        relay_rates, direct_rates, lat = [], [], []
        for _ in range(args.repeat):
            with engine.begin() as conn:
                conn.execute(tables.outbox.delete())
            relay_rates.append(await relay_throughput(db, bus, args.events))
            direct_rates.append(await direct_throughput(bus, args.events))
        timer = Latency(bus)
        timer.start()
        for k in range(args.repeat):
            lat += await timer.round(db, args.latency_events, args.rate, k * args.latency_events)
        await bus.close()
        engine.dispose()
        lat.sort()
        return {"relay": statistics.median(relay_rates), "direct": statistics.median(direct_rates),
                "p50": p(lat, 0.5), "p99": p(lat, 0.99), "n_lat": len(lat), "relay_all": relay_rates}
    finally:
        nats.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--latency-events", type=int, default=1_000)
    ap.add_argument("--rate", type=float, default=200.0, help="events/s written in the latency run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", default=SERVER)
    args = ap.parse_args()
    r = asyncio.run(run(args))
    print(r)
    section = f"""{BEGIN}
## Outbox relay on PostgreSQL (`bench/outbox_relay.py`)

`uv run --no-sync python bench/outbox_relay.py --events {args.events} --repeat {args.repeat}`; medians of
{args.repeat} runs; PostgreSQL 15 on 127.0.0.1, an embedded NATS server, one process, 2 cores.

| | events/s | ratio |
|---|---|---|
| outbox relay (units of 100 events, commit -> published) | {r['relay']:,.0f} | {r['relay'] / r['direct']:.2f}x |
| straight `js.publish`, one by one (no outbox: lost if the process dies after commit) | {r['direct']:,.0f} | 1.00x |

Publish -> consume latency ({r['n_lat']} events, one per unit of work at {args.rate:.0f}/s, a durable consumer
as the services use): **p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms**. Goal: >= 5,000 events/s
({'met' if r['relay'] >= 5000 else 'not met'}) and p99 < 50 ms ({'met' if r['p99'] < 50 else 'not met'}).
{END}"""
    write_section(BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
