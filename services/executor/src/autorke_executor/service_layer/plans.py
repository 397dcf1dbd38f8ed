"""How each kind of job is cut into per-target work (a :class:`Plan`).

``script`` and ``rke2`` jobs: one SSH target each. ``kube``: one node each (the fence
names nodes), or one ``kube-api`` target listing the nodes. ``rke``: one ``rke`` target
whose work first checks that every node of cluster.yml is inside the fence and at its
endpoint among the job's targets (P5, H1)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from autorke_common import untrusted_yaml
from autorke_common.catalogue.executor import ExecutorRun
from autorke_executor.domain.model import TargetOutcome, rke_outside_fence, with_fleet_key
from autorke_executor.service_layer.live_output import LiveOutput
from autorke_executor.service_layer.ports import Ports
from autorke_executor.service_layer.ssh_targets import SshWork

LIST_TARGET = "kube-api"
RKE_TARGET = "rke"


@dataclass
class Plan:
    """How one job's work is cut up: its items (SSH targets, node names, ...), the fence
    key of an item, the work done per item, and what to release when the job ends.
    ``fenced=False``: the work checks the fence itself (rke) or touches no host (list)."""

    items: list[Any]
    host_of: Callable[[Any], str]
    work: Callable[[Any], TargetOutcome]
    close: Callable[[], None] | None = None
    fenced: bool = True


def ssh_plan(job: ExecutorRun, live: LiveOutput, ports: Ports) -> Plan:
    ssh = ports.ssh
    connector = ssh.connector()
    bastions = ssh.bastions(connector)
    work = SshWork(job, connector, bastions, ssh.scripts, ssh.failure, ports.secrets.open,
                   live.sink, ssh.rke2_install_command)
    return Plan(list(job.targets), lambda t: t.host, work, close=bastions.close)


def kube_plan(job: ExecutorRun, live: LiveOutput, ports: Ports) -> Plan:
    failure = ports.kube.failure
    p = job.params
    items = [LIST_TARGET] if job.action == "list_nodes" else [str(n) for n in p["nodes"]]
    try:
        cluster = ports.kube.cluster(ports.secrets.open(job.secrets["kubeconfig"]))
    except failure as exc:  # e.g. unsafe-kubeconfig: every target fails with it, nothing is started
        error_class, why = getattr(exc, "error_class", "failed"), str(exc)
        return Plan(items, lambda n: n, lambda n: TargetOutcome.failed(n, error_class, f"{n}: {why}"),
                    fenced=job.action != "list_nodes")

    def act(node: str) -> dict:
        if job.action == "list_nodes":
            return cluster.list_nodes()
        if job.action in ("cordon", "uncordon"):
            return cluster.cordon(node, job.action == "cordon")
        if job.action == "drain":
            return cluster.drain(node, float(p.get("timeout_s", job.command_timeout_s)),
                                 p.get("grace_period_s"))
        if job.action == "label":
            return cluster.label(node, {**(p.get("labels") or {}), **((p.get("node_labels") or {}).get(node) or {})})
        if job.action == "taint":
            return cluster.taint(node, list(p.get("taints") or []), list(p.get("remove") or []))
        if job.action == "delete_node":
            return cluster.delete_node(node)
        return cluster.wait_ready(node, float(p.get("timeout_s", job.command_timeout_s)))

    def work(node: str) -> TargetOutcome:
        start = time.monotonic()
        try:
            result = act(node)
        except failure as exc:
            return TargetOutcome.failed(node, getattr(exc, "error_class", "failed"), f"{node}: {exc}",
                                        time.monotonic() - start)
        live.feed(node, "stdout", f"{job.action} {node}: done\n")
        return TargetOutcome.ok(node, time.monotonic() - start, None, "", result)

    return Plan(items, lambda n: n, work, close=cluster.close, fenced=job.action != "list_nodes")


def rke_plan(job: ExecutorRun, live: LiveOutput, ports: Ports) -> Plan:
    secrets, rke = ports.secrets, ports.provisioner
    cluster_yml = (secrets.open(job.secrets["cluster_yml"]) if "cluster_yml" in job.secrets
                   else str(job.params["cluster_yml"]))
    try:
        doc = untrusted_yaml.load(cluster_yml) or {}
    except untrusted_yaml.UnsafeYaml as exc:  # anchors, aliases, runaway nesting: never expanded
        raise ValueError(f"cluster.yml refused: {exc}") from None
    rkestate = secrets.open(job.secrets["rkestate"]) if "rkestate" in job.secrets else None
    endpoints = {t.host: (t.address, t.port) for t in job.targets}  # where the plan said each node is

    def work(_: str) -> TargetOutcome:
        start = time.monotonic()
        outside = rke_outside_fence(doc, rkestate, job.fence, endpoints)
        if outside:  # rke dials cluster.yml's nodes and removes the state's others, at their addresses
            return TargetOutcome.failed(RKE_TARGET, "refused_fence", "rke would connect to nodes outside "
                                        f"this change's fence: {', '.join(outside)}; rke not run")
        given = yaml.safe_dump(with_fleet_key(doc, rke.ssh_key_path), sort_keys=False)
        run = rke.run(rke.binary, job.action, given, rkestate, job.command_timeout_s,
                      lambda line: live.feed(RKE_TARGET, "stdout", line + "\n"),
                      snapshot_name=job.params.get("snapshot_name"))
        result: dict[str, Any] = {}
        if run.rkestate:
            result["rkestate"] = secrets.seal(run.rkestate)
        if run.kubeconfig:
            result["kubeconfig"] = secrets.seal(run.kubeconfig)
        if run.timed_out:
            return TargetOutcome.failed(RKE_TARGET, "timeout", f"rke {job.action} did not end within "
                                        f"{job.command_timeout_s:g} s", time.monotonic() - start,
                                        None, run.output, result)
        if run.exit_code != 0:
            return TargetOutcome.failed(RKE_TARGET, "failed", f"rke {job.action} exited {run.exit_code}",
                                        time.monotonic() - start, run.exit_code, run.output, result)
        return TargetOutcome.ok(RKE_TARGET, time.monotonic() - start, 0, run.output, result)

    return Plan([RKE_TARGET], lambda n: n, work, fenced=False)


#: kind of job -> how it is cut up
PLANS: dict[str, Callable[[ExecutorRun, LiveOutput, Ports], Plan]] = {
    "script": ssh_plan, "rke2": ssh_plan, "kube": kube_plan, "rke": rke_plan}
