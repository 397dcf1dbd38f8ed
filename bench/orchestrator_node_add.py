"""Orchestration cost of ``node.add`` of 1 machine to an RKE2 cluster of 10, 100 and 1,000
nodes: the real orchestrator (in-process app, SQLite, embedded NATS, lab IdP tokens) with
a responder that answers every executor job and inventory command at once — so the time
measured is the orchestrator's own (plan, approval, persistence, outbox, bus round trips),
not the work. Cluster size here is the size of the orchestrator's read model of the
cluster (members projected from inventory events); no hollow kubelets are involved.

    uv run --no-sync python bench/orchestrator_node_add.py [--sizes 10 100 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import nats
from fastapi.testclient import TestClient
from sqlalchemy import insert

from autorke_common.bus import Bus
from autorke_common.catalogue.executor import ExecutorRun, JobFinished, TargetFinished, TargetSummary
from autorke_common.catalogue.inventory import MembershipChanged
from autorke_common.envelope import Envelope, utcnow
from autorke_common.natsserver import EmbeddedNats
from autorke_lab.idp import IdentityProvider, issue_token
from autorke_orchestrator.adapters.orm import ClusterViewRow, MachineViewRow
from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app

RESULTS = Path(__file__).with_name("RESULTS.md")


class Responder:
    """Answers every command at once, as a zero-cost executor and inventory would."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.commands = 0
        self.bus = Bus(url, "bench-responder")
        asyncio.run_coroutine_threadsafe(self._start(url), self.loop).result(30)

    async def _start(self, url: str) -> None:
        await self.bus.connect()
        self.nc = await nats.connect(url)
        await self.nc.subscribe("autorke.cmd.>", cb=self._on)

    async def _on(self, msg) -> None:  # noqa: ANN001
        env = Envelope.from_bytes(msg.data)
        self.commands += 1
        if env.type == ExecutorRun.TYPE:
            run = ExecutorRun.model_validate(env.data)
            hosts = [t.host for t in run.targets] or list(run.params.get("nodes") or [])
            for h in hosts:
                await self.bus.publish(Envelope.of(TargetFinished(job_id=run.job_id, change_id=run.change_id, host=h,
                                       status="succeeded", duration_s=0), source="bench"))
            await self.bus.publish(Envelope.of(JobFinished(
                job_id=run.job_id, change_id=run.change_id, kind=run.kind, action=run.action, status="succeeded",
                targets=[TargetSummary(host=h, status="succeeded") for h in hosts], duration_s=0), source="bench"))
        elif env.type == "inventory.membership.assign":
            d = env.data
            await self.bus.publish(Envelope.of(MembershipChanged(
                action="assigned", machine=d["machine"], hostname=d["machine"], cluster=d["cluster"],
                roles=d["roles"], labels=d["labels"], taints=[], change_id=d["change_id"], command_id=env.id),
                source="bench"))


def seed(db, cluster: str, size: int, new: str) -> None:  # noqa: ANN001
    now = utcnow()
    with db.unit_of_work() as uow:
        uow.session.add(ClusterViewRow(name=cluster, provider="rke2", api_endpoint="https://c:6443",
                                       kubeconfig_sealed="sealed", updated_at=now))
        rows = [dict(id=f"{cluster}-n{i}", hostname=f"{cluster}-n{i}", cluster=cluster, roles=["worker"],
                     state="member", labels={}, taints=[], k8s_components=[], ssh={}, updated_at=now)
                for i in range(size)]
        rows.append(dict(id=new, hostname=new, cluster=None, roles=[], state="ready", labels={}, taints=[],
                         k8s_components=[], ssh={"address": "127.0.0.1", "host_key": "ssh-ed25519 AAAA"},
                         updated_at=now))
        uow.session.execute(insert(MachineViewRow), rows)
        uow.commit()


def run(sizes: list[int]) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        idp = IdentityProvider(Path(tmp) / "idp")
        idp.start()
        try:
            settings = OrchestratorSettings(nats_url=server.url, database_url=f"sqlite:///{tmp}/o.db",
                                            oidc_issuer=idp.issuer, trace_exporter="none",
                                            outbox_poll_interval_s=0.05, log_level="WARNING")
            op = {"Authorization": f"Bearer {issue_token('operator', idp.state_dir)}"}
            ap = {"Authorization": f"Bearer {issue_token('approver', idp.state_dir)}"}
            responder = Responder(server.url)
            app = create_app(settings, configure_process=False)
            with TestClient(app) as client:
                for size in sizes:
                    cluster, new = f"c{size}", f"new-{size}"
                    seed(app.state.runtime.db, cluster, size, new)
                    before = responder.commands
                    t0 = time.perf_counter()
                    r = client.post("/api/v1/changes", headers=op, json={"type": "node.add", "cluster": cluster,
                                    "targets": [new], "params": {"role": "worker"}})
                    plan_s = time.perf_counter() - t0
                    cid = r.json()["id"]
                    while client.get(f"/api/v1/changes/{cid}", headers=op).json()["status"] != "awaiting_approval":
                        time.sleep(0.005)
                    t1 = time.perf_counter()
                    client.post(f"/api/v1/changes/{cid}/approvals", headers=ap,
                                json={"step": "approve", "decision": "approve"})
                    while (c := client.get(f"/api/v1/changes/{cid}", headers=op).json())["status"] != "succeeded":
                        time.sleep(0.005)
                    t2 = time.perf_counter()
                    steps = len(c["plan"]["steps"])
                    out.append({"size": size, "plan_ms": plan_s * 1000, "total_s": t2 - t0,
                                "after_approval_s": t2 - t1, "commands": responder.commands - before,
                                "hosts": c["plan"]["blast_radius"]["hosts"], "steps": steps,
                                "per_step_ms": (t2 - t0 - (t1 - t0 - plan_s) * 0) * 1000 / steps})
        finally:
            idp.stop()
    return out


def write(rows: list[dict]) -> None:
    table = "\n".join(f"| {r['size']} | {r['plan_ms']:.0f} | {r['total_s']:.2f} | {r['after_approval_s']:.2f} | "
                      f"{r['steps']} | {r['per_step_ms']:.0f} | {r['commands']} | {', '.join(r['hosts'])} |"
                      for r in rows)
    section = f"""<!-- orchestrator_node_add:begin -->
## Orchestrator: node.add of 1 machine to an RKE2 cluster (`uv run --no-sync python bench/orchestrator_node_add.py`)

The real orchestrator (in-process, SQLite, embedded NATS, lab IdP tokens); every executor job
and inventory command is answered at once by a responder, so the figures are the
orchestration alone (plan, gate, persistence, outbox relay, bus round trips), not the work.
Cluster size = members in the orchestrator's read model (no hollow kubelets here). Per step =
total wall time (create → succeeded, approval included) / steps. Commands = commands sent.

| cluster nodes | plan (ms) | total (s) | after approval (s) | steps | per step (ms) | commands | hosts in blast radius |
|---|---|---|---|---|---|---|---|
{table}

Measured {date.today().isoformat()}, 2 cores, shared with other test runs.
<!-- orchestrator_node_add:end -->"""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"<!-- orchestrator_node_add:begin -->.*?<!-- orchestrator_node_add:end -->", re.S)
    text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    rows = run(p.parse_args().sizes)
    for r in rows:
        print(r)
    write(rows)
