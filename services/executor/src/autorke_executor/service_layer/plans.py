"""How each kind of job is cut into per-target work (see :class:`~.jobs.Plan`).

``script`` and ``rke2`` jobs: one SSH target each. ``kube``: one node each (the fence
names nodes), or one ``kube-api`` target listing the nodes. ``rke``: one ``rke`` target
whose work first checks that every node of cluster.yml is inside the fence (P5)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from autorke_common.catalogue.executor import ExecutorRun

from autorke_executor.domain.model import TargetOutcome, rke_outside_fence
from autorke_executor.service_layer.jobs import Plan
from autorke_executor.service_layer.live_output import LiveOutput
from autorke_executor.service_layer.ssh_targets import SshWork

LIST_TARGET = "kube-api"
RKE_TARGET = "rke"


@dataclass
class Ports:
    """The adapters a plan needs, wired in bootstrap."""

    ssh_connector: Callable[[], Any]  # -> adapters.ssh.SshConnector (lazily: key read on first use)
    bastion_cache: Callable[[Any], Any]  # connector -> adapters.ssh.BastionCache
    ssh_failure: type[Exception]
    scripts: Any  # adapters.scripts.ScriptLibrary
    open_secret: Callable[[str], str]
    seal_secret: Callable[[str], str]
    kube_cluster: Callable[[str], Any]  # kubeconfig text -> adapters.kube.Cluster
    kube_failure: type[Exception]
    run_rke: Callable[..., Any]  # adapters.rke.run_rke
    rke_binary: str
    rke2_install_command: str


def ssh_plan(ports: Ports) -> Callable[[ExecutorRun, LiveOutput], Plan]:
    def plan(job: ExecutorRun, live: LiveOutput) -> Plan:
        connector = ports.ssh_connector()
        bastions = ports.bastion_cache(connector)
        work = SshWork(job, connector, bastions, ports.scripts, ports.ssh_failure, ports.open_secret,
                       live.sink, ports.rke2_install_command)
        return Plan(list(job.targets), lambda t: t.host, work, close=bastions.close)
    return plan


def kube_plan(ports: Ports) -> Callable[[ExecutorRun, LiveOutput], Plan]:
    def plan(job: ExecutorRun, live: LiveOutput) -> Plan:
        cluster = ports.kube_cluster(ports.open_secret(job.secrets["kubeconfig"]))
        p = job.params

        def act(node: str) -> dict:
            if job.action == "list_nodes":
                return cluster.list_nodes()
            if job.action in ("cordon", "uncordon"):
                return cluster.cordon(node, job.action == "cordon")
            if job.action == "drain":
                return cluster.drain(node, float(p.get("timeout_s", job.command_timeout_s)),
                                     p.get("grace_period_s"))
            if job.action == "label":
                return cluster.label(node, dict(p.get("labels") or {}))
            if job.action == "taint":
                return cluster.taint(node, list(p.get("taints") or []), list(p.get("remove") or []))
            if job.action == "delete_node":
                return cluster.delete_node(node)
            return cluster.wait_ready(node, float(p.get("timeout_s", job.command_timeout_s)))

        def work(node: str) -> TargetOutcome:
            start = time.monotonic()
            try:
                result = act(node)
            except ports.kube_failure as exc:  # type: ignore[misc]
                return TargetOutcome.failed(node, exc.error_class, f"{node}: {exc}", time.monotonic() - start)
            live.feed(node, "stdout", f"{job.action} {node}: done\n")
            return TargetOutcome.ok(node, time.monotonic() - start, None, "", result)

        items = [LIST_TARGET] if job.action == "list_nodes" else [str(n) for n in p["nodes"]]
        return Plan(items, lambda n: n, work, close=cluster.close, fenced=job.action != "list_nodes")
    return plan


def rke_plan(ports: Ports) -> Callable[[ExecutorRun, LiveOutput], Plan]:
    def plan(job: ExecutorRun, live: LiveOutput) -> Plan:
        cluster_yml = (ports.open_secret(job.secrets["cluster_yml"]) if "cluster_yml" in job.secrets
                       else str(job.params["cluster_yml"]))
        doc = yaml.safe_load(cluster_yml) or {}
        rkestate = ports.open_secret(job.secrets["rkestate"]) if "rkestate" in job.secrets else None

        def work(_: str) -> TargetOutcome:
            start = time.monotonic()
            outside = rke_outside_fence(doc, rkestate, job.fence)
            if outside:  # rke dials cluster.yml's nodes and removes the state's others
                return TargetOutcome.failed(RKE_TARGET, "refused_fence", "rke would connect to nodes outside "
                                            f"this change's fence: {', '.join(outside)}; rke not run")
            run = ports.run_rke(ports.rke_binary, job.action, cluster_yml, rkestate, job.command_timeout_s,
                                lambda line: live.feed(RKE_TARGET, "stdout", line + "\n"),
                                snapshot_name=job.params.get("snapshot_name"))
            result: dict[str, Any] = {}
            if run.rkestate:
                result["rkestate"] = ports.seal_secret(run.rkestate)
            if run.kubeconfig:
                result["kubeconfig"] = ports.seal_secret(run.kubeconfig)
            if run.timed_out:
                return TargetOutcome.failed(RKE_TARGET, "timeout", f"rke {job.action} did not end within "
                                            f"{job.command_timeout_s:g} s", time.monotonic() - start,
                                            None, run.output, result)
            if run.exit_code != 0:
                return TargetOutcome.failed(RKE_TARGET, "failed", f"rke {job.action} exited {run.exit_code}",
                                            time.monotonic() - start, run.exit_code, run.output, result)
            return TargetOutcome.ok(RKE_TARGET, time.monotonic() - start, 0, run.output, result)

        return Plan([RKE_TARGET], lambda n: n, work, fenced=False)
    return plan
