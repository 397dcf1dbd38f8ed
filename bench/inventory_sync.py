"""Inventory CMDB sync and Machines-page queries on 10,000 machines.

    uv run --no-sync python bench/inventory_sync.py [--records 10000] [--postgres URL]

The lab CMDB (its own app and generated data) serves 10,000 records over HTTP on a free
port; the inventory's SyncRunner reads them with the HTTP/JSON adapter and writes machines
plus one outbox event per machine, on SQLite and on PostgreSQL (``--postgres`` or
AUTORKE_TEST_DATABASE_URL; skipped when neither is set). Measured: full sync (empty
database), incremental sync after 100 CMDB changes, a full re-sync with nothing changed,
and the server-side cost (query + JSON view, no HTTP) of filtered, sorted Machines pages of
50, p50/p95 over 200 queries. Writes its section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

from _results import write_section  # bench/ is on sys.path when a script runs
from fastapi import FastAPI
from sqlalchemy import text

from autorke_common.db import make_engine, migrate
from autorke_common.outbox import Database
from autorke_inventory.adapters.cmdb_http import HttpCmdbSource
from autorke_inventory.adapters.orm import metadata, outbox_tables
from autorke_inventory.adapters.repository import MachineQuery
from autorke_inventory.adapters.unit_of_work import unit_of_work_factory
from autorke_inventory.service_layer import views
from autorke_inventory.service_layer.sync import SyncRunner
from autorke_lab.cmdb.api import cmdb_router
from autorke_lab.cmdb.inventory import Inventory
from autorke_lab.machines.addresses import free_port
from autorke_lab.servers import HttpServer

BEGIN, END = "<!-- inventory_sync:begin -->", "<!-- inventory_sync:end -->"
SCHEMA = "bench_inventory"


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def filters(inv: Inventory) -> list[MachineQuery]:
    rng = random.Random(3)
    records = [inv.get(f"cmdb-{i:06d}") for i in rng.sample(range(1, len(inv) + 1), 50)]
    racks = [r["rack"] for r in records]
    gpus = [r["hardware"]["gpu"]["model"] for r in records if r["hardware"]["gpu"]["model"]]
    out = []
    for i in range(200):
        kind = i % 5
        if kind == 0:
            out.append(MachineQuery(state="available", sort="hostname"))
        elif kind == 1:
            out.append(MachineQuery(gpu_model=rng.choice(gpus), sort="-rack"))
        elif kind == 2:
            out.append(MachineQuery(rack=rng.choice(racks), state="available"))
        elif kind == 3:
            out.append(MachineQuery(q=rng.choice(records)["hostname"][:5], sort="ip"))
        else:
            out.append(MachineQuery(state="available", gpu_model=rng.choice(gpus), sort="rack"))
    return out


def run(url: str, label: str, inv: Inventory, cmdb_url: str) -> dict:
    engine = make_engine(url, schema=SCHEMA)
    if label == "PostgreSQL":
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{SCHEMA}"'))
    migrate(engine, "autorke_inventory:migrations", metadata)
    db = Database(engine, outbox_tables)
    uow = unit_of_work_factory(db)
    runner = SyncRunner(uow, lambda: HttpCmdbSource(cmdb_url))
    full_s, full = timed(lambda: runner.run("full"))
    assert full.ok and full.added == len(inv), full
    for i in range(1, 101):
        inv.change(f"cmdb-{i * 97:06d}", {"rack": f"BENCH-R{i}"})
    inc_s, inc = timed(lambda: runner.run("incremental"))
    assert inc.updated == 100, inc
    again_s, again = timed(lambda: runner.run("full"))
    assert again.unchanged == len(inv), again
    latencies = []
    for f in filters(inv):
        def page(f=f):
            return views.machines(uow(), f, 50, None)["items"]
        latencies.append(timed(page)[0] * 1000)
    latencies.sort()
    with engine.connect() as conn:
        outbox = conn.execute(text("SELECT count(*) FROM outbox")).scalar()
    if label == "PostgreSQL":
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{SCHEMA}" CASCADE'))
    engine.dispose()
    return {"db": label, "full": full_s, "rate": len(inv) / full_s, "inc": inc_s,
            "again": again_s, "p50": statistics.median(latencies),
            "p95": latencies[int(len(latencies) * 0.95) - 1], "outbox": outbox}


def write_results(rows: list[dict], records: int) -> None:
    lines = [BEGIN, ("## Inventory: CMDB sync and Machines pages "
                     "(`uv run --no-sync python bench/inventory_sync.py`)"), "",
             (f"{records:,} lab CMDB records over HTTP (pages of 1,000, the HTTP/JSON adapter); "
              "every machine written with bulk inserts/updates and one `inventory.machine.added` "
              "outbox row each, in one transaction per page. Incremental: 100 records changed in "
              "the CMDB. Re-sync: a full read with nothing changed (fingerprints compared, nothing "
              "written). Pages: 200 filtered, sorted pages of 50 (state / GPU model / rack / free "
              "text, with total count), query + JSON view server-side, no HTTP. "
              f"{os.cpu_count()} cores."), "",
             ("| database | full sync (s) | machines/s | incremental, 100 changed (s) | "
              "full re-sync, unchanged (s) | page p50 (ms) | page p95 (ms) | outbox rows |"),
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['db']} | {r['full']:.1f} | {r['rate']:,.0f} | {r['inc']:.2f} | "
                     f"{r['again']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | {r['outbox']:,} |")
    lines += ["", ("Target: full sync under 20 s on both; p95 of a filtered page under 300 ms. "
                   "The relay publishes the outbox rows to NATS afterwards (not timed here)."), "",
              f"Measured {time.strftime('%Y-%m-%d')}.", END]
    section = "\n".join(lines)
    write_section(BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--postgres", default=os.environ.get("AUTORKE_TEST_DATABASE_URL"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        targets = [(f"sqlite:///{tmp}/inventory.db", "SQLite")]
        if args.postgres:
            targets.append((args.postgres, "PostgreSQL"))
        else:
            print("no --postgres / AUTORKE_TEST_DATABASE_URL: PostgreSQL skipped", file=sys.stderr)
        for url, label in targets:
            inv = Inventory.generate(1, args.records, [])
            app = FastAPI()
            app.include_router(cmdb_router(inv))
            server = HttpServer(app, "127.0.0.1", free_port())
            server.start()
            try:
                row = run(url, label, inv, server.url)
            finally:
                server.stop()
            print(row)
            rows.append(row)
    write_results(rows, args.records)


if __name__ == "__main__":
    main()
