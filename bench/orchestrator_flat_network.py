"""Orchestration cost of ``node.add`` of 1 machine **with the flat-network steps** (issue 18)
to an RKE2 cluster of 10, 100 and 1,000 nodes: the same setting as
``orchestrator_node_add.py`` (the real orchestrator in-process, SQLite, embedded NATS, a lab
Kubernetes API with hollow nodes, a responder for the executor and the inventory), plus:

* the cluster's default node profile asks for a flat network (published as the inventory's
  ``inventory.node_profile.versioned``) and each new machine has a rack in its CMDB facts, so
  the change has 14 steps: the pool check, the join steps, and the ticket's plan, human
  check, submission, human confirmation and apply;
* the responder also answers netcfg's part at once (pool checked, ticket planned, VCalico's
  accepted callback, ticket applied); the two ticket gates are approved as soon as asked.

Per step = (create → change finished − the responder's work) / steps, the three approvals
included. Flat in N means each step costs what it costs on a cluster of 10.

    uv run --no-sync python bench/orchestrator_flat_network.py [--sizes 10 100 1000] [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import orchestrator_node_add as base  # bench/ is on sys.path when a script runs
from _results import write_section
from fastapi.testclient import TestClient
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from autorke_common.catalogue.inventory import MachineUpdated, NodeProfileVersioned
from autorke_common.catalogue.netcfg import (
    IPPoolChecked,
    TicketApplied,
    TicketCallbackReceived,
    TicketPlanned,
)
from autorke_common.catalogue.orchestrator import ApprovalRequested, ChangeFinished
from autorke_common.envelope import Envelope
from autorke_common.natsserver import EmbeddedNats
from autorke_common.node_profiles import MachineFacts
from autorke_common.signing import generate_key
from autorke_lab.idp import IdentityProvider, issue_token
from autorke_lab.kube.background import ClusterThread
from autorke_lab.kube.cluster import KubeClusterSettings
from autorke_orchestrator.adapters.directory import Directory
from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app

GATES = ("approve", "net_check", "net_confirm")
PROFILE = {"network": {"enabled": True, "route_reflectors": 1}}


class Responder(base.Responder):
    """The node.add bench's responder, answering netcfg's commands too, and telling which
    gate each approval request is for."""

    async def _on_event(self, msg) -> None:
        env = Envelope.from_bytes(msg.data)
        key = None
        if env.type == ApprovalRequested.TYPE:
            key = f"{env.type}:{env.correlation_id}:{env.data['step_id']}"
        elif env.type == ChangeFinished.TYPE:
            key = f"{env.type}:{env.correlation_id}"
        if key:
            with self.lock:
                self.seen.add(key)
                if (ev := self.events.get(key)) is not None:
                    ev.set()

    async def _answer(self, env: Envelope, received: float) -> None:
        d, cid = env.data, env.correlation_id
        if env.type == "netcfg.ippool.check":
            answer = IPPoolChecked(command_id=d["command_id"], change_id=d["change_id"], cluster=d["cluster"],
                                   pool=d["pool"], operation=d["operation"], after=d.get("spec"))
        elif env.type == "netcfg.ticket.plan":
            answer = TicketPlanned(ticket_id=d["ticket_id"], cluster=d["cluster"], requested_by=d["requested_by"],
                                   plan={"nodes": [{"name": n, "rack": "R1"} for n in d["nodes"]]})
        elif env.type == "netcfg.ticket.approve":
            answer = TicketCallbackReceived(ticket_id=d["ticket_id"], cluster="c", event_id=env.id,
                                            result="approved", answer={"bgp_peers": []}, accepted=True)
        elif env.type == "netcfg.ticket.confirm":
            answer = TicketApplied(ticket_id=d["ticket_id"], cluster="c", pool="flat", nodes=[], route_reflectors=[])
        else:
            await super()._answer(env, received)
            return
        await self.bus.publish(Envelope.of(answer, source="netcfg", correlation_id=cid))
        self.log.append((env.type, received, time.perf_counter()))


def seed_profile(responder: Responder, db, cluster: str, new: list[str]) -> None:
    async def publish() -> None:
        await responder.publish(NodeProfileVersioned(cluster=cluster, kind="node-profile", name="default",
                                                     version=1, spec=PROFILE, created_by="bench"))
        for name in new:
            await responder.publish(MachineUpdated(machine=f"id-{name}", hostname=name, ip=None, fields=["rack"],
                                                   facts=MachineFacts(rack="R1")))
    responder.call(publish(), timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the orchestrator projected the profile and the facts
        with db.unit_of_work() as uow:
            directory = Directory(uow.session)
            machines = directory.machines(new)
            if directory.document(cluster, "node-profile", "default") and all(
                    machines[n].facts.get("rack") for n in new if n in machines) and len(machines) == len(new):
                return
        time.sleep(0.05)
    raise TimeoutError("the orchestrator never projected the profile")


def one_run(http: TestClient, responder: Responder, op: dict, ap: dict, cluster: str, new: str, cidr: str) -> dict:
    start = len(responder.log)
    t0 = time.perf_counter()
    r = http.post("/api/v1/changes", headers=op, json={"type": "node.add", "cluster": cluster, "targets": [new],
                                                       "params": {"role": "worker", "network": {"cidr": cidr}}})
    plan_s = time.perf_counter() - t0
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert len(r.json()["plan"]["steps"]) == 14, "the default profile's flat network was not seen"
    finished = responder.expect(f"{ChangeFinished.TYPE}:{cid}")
    for gate in GATES:
        assert responder.expect(f"{ApprovalRequested.TYPE}:{cid}:{gate}").wait(60), f"{gate} never requested"
        r = http.post(f"/api/v1/changes/{cid}/approvals", headers=ap, json={"step": gate, "decision": "approve"})
        assert r.status_code == 200, r.text
    assert finished.wait(120), "change never finished"
    total = time.perf_counter() - t0
    change = http.get(f"/api/v1/changes/{cid}", headers=op).json()
    assert change["status"] == "succeeded", change["status"]
    log = responder.log[start:]
    work = sum(out - inn for _, inn, out in log)
    steps = len(change["plan"]["steps"])
    return {"plan_ms": plan_s * 1000, "total_s": total, "work_ms": work * 1000, "steps": steps,
            "per_step_ms": (total - work) * 1000 / steps, "commands": len(log)}


def run(sizes: list[int], runs: int) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
        idp = IdentityProvider(Path(tmp) / "idp")
        idp.start()
        kube_thread = ClusterThread()
        responder = Responder(server.url)
        try:
            generate_key(Path(tmp) / "signing.pem")
            settings = OrchestratorSettings(nats_url=server.url, database_url=f"sqlite:///{tmp}/o.db",
                                            oidc_issuer=idp.issuer, trace_exporter="none", log_level="WARNING",
                                            signing_key_file=Path(tmp) / "signing.pem")
            op = {"Authorization": f"Bearer {issue_token('operator', idp.state_dir)}"}
            ap = {"Authorization": f"Bearer {issue_token('approver', idp.state_dir)}"}
            app = create_app(settings, configure_process=False)
            with TestClient(app) as http:
                for i, size in enumerate(sizes):
                    cluster = f"c{size}"
                    lab = kube_thread.start_cluster(KubeClusterSettings(
                        name=cluster, state_dir=Path(tmp) / cluster, hollow_nodes=size, seed_workloads=False))
                    api = k8s_config.new_client_from_config_dict(lab.kubeconfig)
                    responder.kube = k8s.CoreV1Api(api)
                    new = [f"{cluster}-new{j}" for j in range(runs)]
                    base.build_read_model(responder, app.state.runtime.db, cluster, responder.kube, new)
                    seed_profile(responder, app.state.runtime.db, cluster, new)
                    rows = [one_run(http, responder, op, ap, cluster, n, f"10.{100 + i}.{j}.0/24")
                            for j, n in enumerate(new)]
                    med = {k: statistics.median(r[k] for r in rows) for k in
                           ("plan_ms", "total_s", "work_ms", "per_step_ms", "commands")}
                    out.append({"size": size, "runs": runs, "steps": rows[0]["steps"],
                                "max_per_step_ms": max(r["per_step_ms"] for r in rows), **med})
                    print(out[-1], flush=True)
                    api.close()
                    kube_thread.stop_cluster(lab)
        finally:
            responder.close()
            kube_thread.close()
            idp.stop()
    return out


def write(rows: list[dict]) -> None:
    table = "\n".join(
        f"| {r['size']:,} | {r['plan_ms']:.0f} | {r['total_s']:.2f} | {r['work_ms']:.0f} | {r['steps']} | "
        f"**{r['per_step_ms']:.0f}** (max {r['max_per_step_ms']:.0f}) | {r['commands']:.0f} |" for r in rows)
    section = f"""<!-- orchestrator_flat_network:begin -->
## Orchestrator: node.add with the flat-network steps (`uv run --no-sync python bench/orchestrator_flat_network.py`)

As the node.add bench above, with the cluster's default node profile asking for a flat
network: 14 steps (pool check, join steps, ticket plan, human check, submission with
VCalico's callback, human confirmation, apply). The responder answers the executor's, the
inventory's and netcfg's commands; the three gates are approved as soon as asked. Per step =
(create → change finished − the responder's work) / steps. Medians of {rows[0]['runs'] if rows else 0} changes per size.

| cluster nodes | plan (ms) | total (s) | work (ms) | steps | per step excl. work (ms) | commands |
|---|---|---|---|---|---|---|
{table}

Measured {date.today().isoformat()}, 2 cores, shared with other test runs (load varies).
<!-- orchestrator_flat_network:end -->"""
    write_section("<!-- orchestrator_flat_network:begin -->", "<!-- orchestrator_flat_network:end -->", section)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = p.parse_args()
    rows = run(args.sizes, args.runs)
    if not args.no_write:
        write(rows)
