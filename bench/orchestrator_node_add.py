"""Orchestration cost of ``node.add`` of 1 machine to an RKE2 cluster of 10, 100 and 1,000
nodes, and how much of it is the orchestrator's own per step.

What is real: the orchestrator (in-process app with its lifespan: migrations, outbox relay,
consumers; SQLite; embedded NATS; lab IdP tokens), and a lab Kubernetes API per cluster
size filled with hollow nodes (``KubeClusterSettings(hollow_nodes=N)``). The orchestrator's
read model of each cluster is built the real way: the bench lists the lab cluster's nodes
with the official client and publishes the inventory's events for each (machine added,
with its SSH data, and membership assigned), which the orchestrator projects.

What stands in: the executor and the inventory (:class:`Responder`). Kube jobs do their
work against the lab API with the official client (join registers the new node, labels
patch it, wait_ready reads it back); script jobs (preflight, init) answer at once; the
membership command is answered as the inventory would. The responder times its own work
per command, so the figures separate the orchestration from the (stand-in) work:

* overhead per step = (create → change finished − work − approval reaction) / steps;
* gap = from the responder's last result of one command to the next command's arrival
  (relay, bus, consumer, saga and database in between), median over a run's commands.

    uv run --no-sync python bench/orchestrator_node_add.py [--sizes 10 100 1000] [--runs 5]
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import nats
from _results import write_section  # bench/ is on sys.path when a script runs
from fastapi.testclient import TestClient
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from sqlalchemy import func, select

from autorke_common.bus import Bus
from autorke_common.catalogue import Message
from autorke_common.catalogue.executor import ExecutorRun, JobFinished, TargetFinished, TargetSummary
from autorke_common.catalogue.inventory import ClusterRegistered, MachineAdded, MembershipChanged
from autorke_common.catalogue.orchestrator import ApprovalRequested, ChangeFinished
from autorke_common.envelope import Envelope
from autorke_common.natsserver import EmbeddedNats
from autorke_common.signing import generate_key
from autorke_lab.idp import IdentityProvider, issue_token
from autorke_lab.kube.background import ClusterThread
from autorke_lab.kube.cluster import KubeClusterSettings
from autorke_lab.kube.nodes import HOLLOW_ANNOTATION, node_object
from autorke_lab.kube.store import now_rfc3339
from autorke_orchestrator.adapters.orm import MachineViewRow
from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app


def ssh_data(address: str, hostname: str) -> dict:
    return {"address": address, "port": 22, "user": "root", "host_key": f"ssh-ed25519 AAAAbench{hostname}"}


class Responder:
    """Plays the executor and the inventory on the bus; times its own work per command."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.url = url
        self.kube: k8s.CoreV1Api | None = None
        self.log: list[tuple[str, float, float]] = []  # (command, received, last result published)
        self.events: dict[str, threading.Event] = {}
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.call(self._start())

    def call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        self.bus = Bus(self.url, "bench-responder")
        await self.bus.connect()
        self.nc = await nats.connect(self.url)
        await self.nc.subscribe("autorke.cmd.>", cb=self._on_command)
        await self.nc.subscribe("autorke.events.orchestrator.>", cb=self._on_event)

    async def publish(self, message: Message, extra: dict | None = None) -> None:
        env = Envelope.of(message, source="bench")
        env.data.update(extra or {})
        await self.bus.publish(env)

    def expect(self, key: str) -> threading.Event:
        """An event set when the orchestrator event ``<type>:<change id>`` is (or was) seen."""
        with self.lock:
            ev = self.events.setdefault(key, threading.Event())
            if key in self.seen:
                ev.set()
        return ev

    async def _on_event(self, msg) -> None:
        env = Envelope.from_bytes(msg.data)
        if env.type in (ApprovalRequested.TYPE, ChangeFinished.TYPE):
            key = f"{env.type}:{env.correlation_id}"
            with self.lock:
                self.seen.add(key)
                if (ev := self.events.get(key)) is not None:
                    ev.set()

    async def _on_command(self, msg) -> None:
        """Timed on arrival; answered in a task, so a command arriving while the previous one
        is still being answered is not stamped late."""
        received = time.perf_counter()
        asyncio.ensure_future(self._answer(Envelope.from_bytes(msg.data), received))

    async def _answer(self, env: Envelope, received: float) -> None:
        if env.type == ExecutorRun.TYPE:
            run = ExecutorRun.model_validate(env.data)
            hosts = ["rke"] if run.kind == "rke" else (  # an rke job's targets are its nodes' endpoints
                [t.host for t in run.targets] or list(run.params.get("nodes") or []))
            if run.kind in ("rke2", "kube"):
                await asyncio.to_thread(self._kube_work, run, hosts)
            for h in hosts:
                await self.publish(TargetFinished(job_id=run.job_id, change_id=run.change_id, host=h,
                                                  status="succeeded", duration_s=0))
            done = time.perf_counter()  # the last target's result completes the step
            await self.publish(JobFinished(job_id=run.job_id, change_id=run.change_id, kind=run.kind,
                                           action=run.action, status="succeeded", duration_s=0,
                                           targets=[TargetSummary(host=h, status="succeeded") for h in hosts]))
            self.log.append((f"{run.kind}.{run.action}", received, done))
        elif env.type == "inventory.membership.assign":
            d = env.data
            await self.publish(MembershipChanged(
                action="assigned", machine=f"id-{d['machine']}", hostname=d["machine"], cluster=d["cluster"],
                roles=d["roles"], labels=d["labels"], taints=[], change_id=d["change_id"], command_id=env.id))
            self.log.append((env.type, received, time.perf_counter()))

    def _kube_work(self, run: ExecutorRun, hosts: list[str]) -> None:
        """The work itself, against the lab Kubernetes API (the official client)."""
        assert self.kube is not None
        for h in hosts:
            if run.action == "join":  # what the rke2 agent's registration does
                self.kube.create_node(node_object(h, now=now_rfc3339(), annotations={HOLLOW_ANNOTATION: "fake"}))
            elif run.action == "label":
                self.kube.patch_node(h, {"metadata": {"labels": run.params.get("labels") or {}}})
            elif run.action == "wait_ready":
                node = self.kube.read_node(h)
                assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

    def close(self) -> None:
        async def stop() -> None:
            await self.nc.close()
            await self.bus.close(grace_s=1)
        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def build_read_model(responder: Responder, db, cluster: str, kube: k8s.CoreV1Api, new: list[str]) -> float:
    """Publish the inventory's events for every node of the lab cluster (and the machines
    to add); wait until the orchestrator has projected them. Returns the seconds it took."""
    t0 = time.perf_counter()
    nodes = kube.list_node().items

    async def publish() -> None:
        await responder.publish(ClusterRegistered(
            name=cluster, provider="rke2", api_endpoint=f"https://{cluster}.lab:9345", kubeconfig_sealed="sealed",
            host_networks=["198.18.0.0/15"], pod_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16", bgp_as=None,
            join_address=f"https://{cluster}.lab:9345", join_token_sealed="sealed"))
        for n in nodes:
            name = n.metadata.name
            address = next(a.address for a in n.status.addresses if a.type == "InternalIP")
            await responder.publish(MachineAdded(machine=f"id-{name}", hostname=name, ip=address, state="member"),
                                    extra={"ssh": ssh_data(address, name)})
            await responder.publish(MembershipChanged(action="assigned", machine=f"id-{name}", hostname=name,
                                                      cluster=cluster, roles=["worker"], labels={}, taints=[]))
        for i, name in enumerate(new):
            address = f"127.77.{i // 250}.{i % 250 + 1}"
            await responder.publish(MachineAdded(machine=f"id-{name}", hostname=name, ip=address, state="ready"),
                                    extra={"ssh": ssh_data(address, name)})
    responder.call(publish(), timeout=600)
    expected = len(nodes) + len(new)
    while True:
        with db.unit_of_work() as uow:
            members = uow.session.execute(select(func.count()).select_from(MachineViewRow).where(
                MachineViewRow.cluster == cluster)).scalar()
            fresh = uow.session.execute(select(func.count()).select_from(MachineViewRow).where(
                MachineViewRow.hostname.in_(new))).scalar()
        if members + fresh == expected:
            return time.perf_counter() - t0
        time.sleep(0.05)


def one_run(http: TestClient, responder: Responder, op: dict, ap: dict, cluster: str, new: str) -> dict:
    start = len(responder.log)
    t0 = time.perf_counter()
    r = http.post("/api/v1/changes", headers=op, json={"type": "node.add", "cluster": cluster, "targets": [new],
                                                       "params": {"role": "worker", "labels": {"bench": "1"}}})
    plan_s = time.perf_counter() - t0
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    asked = responder.expect(f"{ApprovalRequested.TYPE}:{cid}")
    finished = responder.expect(f"{ChangeFinished.TYPE}:{cid}")
    assert asked.wait(60), "approval never requested"
    assert http.post(f"/api/v1/changes/{cid}/approvals", headers=ap,
                     json={"step": "approve", "decision": "approve"}).status_code == 200
    assert finished.wait(120), "change never finished"
    total = time.perf_counter() - t0
    change = http.get(f"/api/v1/changes/{cid}", headers=op).json()
    assert change["status"] == "succeeded", change["status"]
    log = responder.log[start:]
    work = sum(out - inn for _, inn, out in log)
    gaps = [b[1] - a[2] for a, b in itertools.pairwise(log)]
    steps = len(change["plan"]["steps"])
    # The approval is posted as soon as its request arrives: that trip is orchestration too.
    return {"plan_ms": plan_s * 1000, "total_s": total, "work_ms": work * 1000, "steps": steps,
            "per_step_ms": (total - work) * 1000 / steps,
            "gap_ms": statistics.median(gaps) * 1000 if gaps else 0.0, "commands": len(log),
            "hosts": change["plan"]["blast_radius"]["hosts"]}


def run(sizes: list[int], runs: int) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        idp = IdentityProvider(Path(tmp) / "idp")
        idp.start()
        kube_thread = ClusterThread()
        responder = Responder(server.url)
        try:
            generate_key(Path(tmp) / "signing.pem")  # the orchestrator signs every command it sends
            settings = OrchestratorSettings(nats_url=server.url, database_url=f"sqlite:///{tmp}/o.db",
                                            oidc_issuer=idp.issuer, trace_exporter="none", log_level="WARNING",
                                            signing_key_file=Path(tmp) / "signing.pem")
            op = {"Authorization": f"Bearer {issue_token('operator', idp.state_dir)}"}
            ap = {"Authorization": f"Bearer {issue_token('approver', idp.state_dir)}"}
            app = create_app(settings, configure_process=False)
            with TestClient(app) as http:
                for size in sizes:
                    cluster = f"c{size}"
                    lab = kube_thread.start_cluster(KubeClusterSettings(
                        name=cluster, state_dir=Path(tmp) / cluster, hollow_nodes=size, seed_workloads=False))
                    api = k8s_config.new_client_from_config_dict(lab.kubeconfig)
                    responder.kube = k8s.CoreV1Api(api)
                    new = [f"{cluster}-new{i}" for i in range(runs)]
                    seed_s = build_read_model(responder, app.state.runtime.db, cluster, responder.kube, new)
                    rows = [one_run(http, responder, op, ap, cluster, n) for n in new]
                    med = {k: statistics.median(r[k] for r in rows) for k in
                           ("plan_ms", "total_s", "work_ms", "per_step_ms", "gap_ms", "commands")}
                    out.append({"size": size, "runs": runs, "seed_s": seed_s, "steps": rows[0]["steps"],
                                "hosts": rows[0]["hosts"], "max_per_step_ms": max(r["per_step_ms"] for r in rows),
                                **med})
                    print(out[-1], flush=True)
                    api.close()
                    kube_thread.stop_cluster(lab)
        finally:
            responder.close()  # before the NATS server goes: no reconnect attempts, no tracebacks
            kube_thread.close()
            idp.stop()
    return out


def write(rows: list[dict]) -> None:
    table = "\n".join(
        f"| {r['size']:,} | {r['seed_s']:.1f} | {r['plan_ms']:.0f} | {r['total_s']:.2f} | {r['work_ms']:.0f} | "
        f"{r['steps']} | **{r['per_step_ms']:.0f}** (max {r['max_per_step_ms']:.0f}) | {r['gap_ms']:.0f} | "
        f"{r['commands']:.0f} | {', '.join(r['hosts'])} |" for r in rows)
    header = ("| cluster nodes | read model seed (s) | plan (ms) | total (s) | work (ms) | steps | "
              "per step excl. work (ms) | gap (ms) | commands | hosts in blast radius |")
    section = f"""<!-- orchestrator_node_add:begin -->
## Orchestrator: node.add of 1 machine to an RKE2 cluster (`uv run --no-sync python bench/orchestrator_node_add.py`)

The real orchestrator (in-process app: migrations, outbox relay, consumers; SQLite; embedded
NATS; lab IdP tokens) and, per size, a lab Kubernetes API with that many hollow nodes. The
orchestrator's read model of the cluster is built from inventory events the bench publishes
for every node listed by the official client (seed column: publish + projection). A
responder stands in for the executor and the inventory: kube jobs do their work against the
lab API (join registers the node, labels patch it, wait_ready reads it), script jobs and the
membership command answer at once; it times its own work.
Per step = (create → change finished − work) / steps, approval included (posted as soon as
its request event arrives). Gap = responder's last result of a command → next command
received. Medians of {rows[0]['runs'] if rows else 0} changes per size; commands = commands sent per change.

{header}
|---|---|---|---|---|---|---|---|---|---|
{table}

Before (2026-11-29, members loaded by every step, responder answering everything at once,
one run): 73 / 57 / 266 ms per step at 10 / 100 / 1,000 members.
Measured {date.today().isoformat()}, 2 cores, shared with other test runs (load varies).
<!-- orchestrator_node_add:end -->"""
    write_section("<!-- orchestrator_node_add:begin -->", "<!-- orchestrator_node_add:end -->", section)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = p.parse_args()
    rows = run(args.sizes, args.runs)
    if not args.no_write:
        write(rows)
