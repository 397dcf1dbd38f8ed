"""200 concurrent ``node.add`` changes on hollow RKE2 clusters, against 1 and then 2
orchestrator replicas: the orchestration overhead per step under load, p50 and p99.

What is real: the orchestrator, as N processes (``python -m autorke_orchestrator``) on one
PostgreSQL database (the local server, a database of the bench's own) and one embedded
NATS server, with lab IdP tokens; each change goes through its REST API (created on one
replica, approved on the next: round-robin), its saga, outbox relay and consumers. The read
model holds C clusters of M hollow members each and the machines to add, built from the
inventory's events the bench publishes. What stands in: the executor and the inventory
(``orchestrator_node_add.Responder``), answering every command at once with no work, so
the time from create to finished is all orchestration (and the bench's own HTTP and bus
client on the same 2 cores).

Per step = (create -> ``change.finished`` seen) / steps of the change, approval included
(posted as soon as its request event arrives).

    uv run --no-sync python bench/orchestrator_replicas.py [--changes 200] [--replicas 1,2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import _services
import httpx
from _results import write_section  # bench/ is on sys.path when a script runs
from orchestrator_node_add import Responder, ssh_data
from sqlalchemy import create_engine, text

from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.catalogue.inventory import ClusterRegistered, MachineAdded, MembershipChanged
from autorke_common.catalogue.orchestrator import ApprovalRequested, ChangeFinished
from autorke_common.natsserver import EmbeddedNats
from autorke_common.signing import generate_key
from autorke_lab.idp import IdentityProvider, issue_token

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
HEADER = ("| replicas | changes | steps each | per step p50 (ms) | per step p99 (ms) | change p50 (s) | "
          "all done (s) | steps/s | speed-up |\n|---|---|---|---|---|---|---|---|---|")


class InstantResponder(Responder):
    """The executor and the inventory, answering at once: hollow clusters have no work."""

    def _kube_work(self, run: ExecutorRun, hosts: list[str]) -> None:
        return None


def seed(responder: Responder, clusters: int, members: int, per_cluster: int, database_url: str) -> None:
    """The inventory's events for every cluster, its hollow members and the machines to add;
    waits until the read model holds them all."""
    async def publish() -> None:
        for c in range(clusters):
            name = f"hollow-{c}"
            await responder.publish(ClusterRegistered(
                name=name, provider="rke2", api_endpoint=f"https://{name}.lab:9345", kubeconfig_sealed="sealed",
                host_networks=["198.18.0.0/15"], pod_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16",
                bgp_as=None, join_address=f"https://{name}.lab:9345", join_token_sealed="sealed"))
            for m in range(members + per_cluster):
                host, address = f"{name}-m{m}", f"127.88.{c}.{m + 1}"
                member = m < members
                await responder.publish(MachineAdded(machine=f"id-{host}", hostname=host, ip=address,
                                                     state="member" if member else "ready"),
                                        extra={"ssh": ssh_data(address, host)})
                if member:
                    await responder.publish(MembershipChanged(action="assigned", machine=f"id-{host}", hostname=host,
                                                              cluster=name, roles=["worker"], labels={}, taints=[]))
    responder.call(publish(), timeout=600)
    engine = create_engine(database_url)
    expected = clusters * (members + per_cluster)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                seen = conn.execute(text("SELECT count(*) FROM orchestrator.machines")).scalar()
                members_seen = conn.execute(text("SELECT count(*) FROM orchestrator.machines "
                                                 "WHERE cluster IS NOT NULL")).scalar()
            if seen == expected and members_seen == clusters * members:
                return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise RuntimeError("the read model was not built in time")


def one_change(responder: Responder, urls: list[str], i: int, target: str, cluster: str, op: dict,
               ap: dict) -> dict:
    t0 = time.perf_counter()
    r = httpx.post(f"{urls[i % len(urls)]}/api/v1/changes", headers=op, timeout=120, json={
        "type": "node.add", "cluster": cluster, "targets": [target], "params": {"role": "worker"}})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert responder.expect(f"{ApprovalRequested.TYPE}:{cid}").wait(600), f"{cid}: approval never requested"
    approve = httpx.post(f"{urls[(i + 1) % len(urls)]}/api/v1/changes/{cid}/approvals", headers=ap, timeout=120,
                         json={"step": "approve", "decision": "approve"})
    assert approve.status_code == 200, approve.text
    assert responder.expect(f"{ChangeFinished.TYPE}:{cid}").wait(900), f"{cid}: never finished"
    total = time.perf_counter() - t0
    change = httpx.get(f"{urls[0]}/api/v1/changes/{cid}", headers=op, timeout=60).json()
    assert change["status"] == "succeeded", (cid, change["status"])
    steps = len(change["plan"]["steps"])
    return {"total_s": total, "steps": steps, "per_step_ms": total * 1000 / steps}


def one(replicas: int, args: argparse.Namespace) -> dict:
    name = f"bench_orch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{args.server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    folder = Path(tempfile.mkdtemp(prefix="bench-orch-"))
    nats_server = EmbeddedNats(folder / "nats").start()
    idp = IdentityProvider(folder / "idp")
    idp.start()
    procs: list[subprocess.Popen] = []
    responder: Responder | None = None
    try:
        generate_key(folder / "signing.pem")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
        env.update({"AUTORKE_DATABASE_URL": f"{args.server}/{name}", "AUTORKE_DB_SCHEMA": "orchestrator",
                    "AUTORKE_NATS_URL": nats_server.url, "AUTORKE_OIDC_ISSUER": idp.issuer,
                    "AUTORKE_SIGNING_KEY_FILE": str(folder / "signing.pem"), "AUTORKE_DATA_DIR": str(folder),
                    "AUTORKE_LOG_LEVEL": "WARNING", "AUTORKE_TRACE_EXPORTER": "none",
                    "AUTORKE_OUTBOX_POLL_INTERVAL_S": "0.1"})
        procs, urls = _services.start("autorke_orchestrator", replicas, env, folder)
        responder = InstantResponder(nats_server.url)
        op = {"Authorization": f"Bearer {issue_token('operator', idp.state_dir)}"}
        ap = {"Authorization": f"Bearer {issue_token('approver', idp.state_dir)}"}
        per_cluster = -(-args.changes // args.clusters)
        seed(responder, args.clusters, args.members, per_cluster, f"{args.server}/{name}")
        targets = [(f"hollow-{i % args.clusters}-m{args.members + i // args.clusters}", f"hollow-{i % args.clusters}")
                   for i in range(args.changes)]
        start = threading.Barrier(args.changes, timeout=120)

        def run(i: int) -> dict:
            start.wait()  # every change is created at once
            return one_change(responder, urls, i, *targets[i], op, ap)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.changes) as pool:
            rows = list(pool.map(run, range(args.changes)))
        wall = time.perf_counter() - t0
        per_step = sorted(r["per_step_ms"] for r in rows)
        return {"changes": len(rows), "steps": rows[0]["steps"], "wall_s": wall,
                "p50_ms": statistics.median(per_step),
                "p99_ms": per_step[min(len(per_step) - 1, int(len(per_step) * 0.99))],
                "p50_total_s": statistics.median(r["total_s"] for r in rows),
                "steps_per_s": sum(r["steps"] for r in rows) / wall}
    finally:
        if responder is not None:
            responder.close()
        _services.stop(procs)
        idp.stop()
        nats_server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--changes", type=int, default=200)
    p.add_argument("--clusters", type=int, default=10)
    p.add_argument("--members", type=int, default=50, help="hollow members of each cluster")
    p.add_argument("--replicas", default="1,2")
    p.add_argument("--runs", type=int, default=3, help="runs per replica count (medians reported)")
    p.add_argument("--server", default=SERVER)
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = p.parse_args()
    results = {}
    for n in (int(x) for x in args.replicas.split(",")):
        runs = []
        for _ in range(args.runs):  # alternating would share nothing: each run has its own database
            runs.append(one(n, args))
            print(n, runs[-1], flush=True)
        results[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    if args.no_write:
        return 0
    base = results.get(1)
    rows = "\n".join(
        f"| {n} | {r['changes']:.0f} | {r['steps']:.0f} | **{r['p50_ms']:.0f}** | **{r['p99_ms']:.0f}** | "
        f"{r['p50_total_s']:.1f} | {r['wall_s']:.1f} | {r['steps_per_s']:.0f} | "
        f"{(base['wall_s'] / r['wall_s']) if base else 1:.2f}x |" for n, r in results.items())
    section = f"""<!-- orchestrator_replicas:begin -->
## {args.changes} concurrent node.add changes, 1 vs 2 orchestrator replicas (`orchestrator_replicas.py`)

`uv run --no-sync python bench/orchestrator_replicas.py --changes {args.changes}`, medians of {args.runs} runs
each: every change created at once through the REST API (round-robin over the replicas), approved as soon as its request
event arrives, on {args.clusters} hollow RKE2 clusters of {args.members} members; the executor and the
inventory answer every command at once (no work), so the time is orchestration: REST, saga,
PostgreSQL, outbox relay, NATS, consumers. Per step = create → finished / steps.

{HEADER}
{rows}

Every change succeeded. With all {args.changes} in flight, a step's time is mostly its wait in
line: the platform as a whole moves the steps/s shown, so per step ≈ changes in flight ÷
steps/s; one change alone takes ~70 ms per step (`orchestrator_node_add.py`). Measured
{date.today().isoformat()}: the replicas share the machine's 2 cores with PostgreSQL, NATS and the
bench's {args.changes} client threads, so a second replica adds CPU only where one was waiting on
I/O; on separate nodes each replica brings its own cores.
<!-- orchestrator_replicas:end -->"""
    write_section("<!-- orchestrator_replicas:begin -->", "<!-- orchestrator_replicas:end -->", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
