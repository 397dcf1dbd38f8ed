"""The lab runtime component that puts lab clusters on lab machines at start-up: by
default one RKE1 cluster (``rke1-lab``) and one RKE2 cluster (``rke2-lab``) of 3 core +
3 workers each, the rest of the machines free. Runs after the machines and the Kubernetes
APIs (``kube``) are up; both clusters are built at the same time, every node in parallel.

A cluster that fails to come up does not stop the lab: its entry says ``"ready": false``
with the ``error`` (and a notice says so), so the platform and a person can see why.
Nothing to stop at the end: the kubelets and agents are processes of the machines, which
the fleet ends with everything else of theirs.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..component import LabHost
from ..provisioners.rke import rke_path, write_wrapper
from ..provisioners.rke.ssh import SSHFailure
from ..provisioners.rke2 import install_command
from . import access, rke1, rke2
from .plan import ClusterOptions, ClusterPlan, Layout, plan

log = logging.getLogger("autorke_lab.clusters")


class ClustersComponent:
    name = "clusters"

    def __init__(self) -> None:
        self.layout = Layout()
        self.entries: dict[str, dict[str, Any]] = {}
        self.skipped = ""
        self.started_in = 0.0
        self.wiped: list[str] = []
        self.provisioners: dict[str, str] = {}
        self._notice = log.warning

    def start(self, lab: LabHost) -> None:
        t0 = time.monotonic()
        self._notice = lab.notice
        opts = ClusterOptions.from_options(lab.config.options)
        fleet = lab.get("machines").fleet if lab.has("machines") else None
        if fleet is None or not lab.has("kube"):
            self.skipped = "the machines and kube components are not running"
        elif not fleet.namespaced:
            self.skipped = "plain machines share the host's files; clusters need namespaces"
        if self.skipped:
            if opts.enabled:
                lab.notice(f"lab clusters: none built: {self.skipped}")
            return
        self.provisioners = provisioners(lab.get("kube"), opts)
        usable = [m for m in fleet.machines if m.spec.role == "machine"]
        state = Path(lab.state_dir) / "clusters"
        key = Path(fleet.ssh["private_key"])
        known_hosts = access.write_known_hosts(usable, state / "known_hosts")
        self._wipe_leftovers(usable, key, known_hosts)
        if not opts.enabled:
            self.skipped = "disabled (clusters.enabled=false)"
            self.layout.free = [m.name for m in usable]
            return
        self.layout = plan([(m.name, m.spec.address, m.spec.port) for m in usable], opts)
        for text in self.layout.notices:
            lab.notice(text)
        kube = lab.get("kube")
        apis = {p.name: kube.ensure_cluster(p.name) for p in self.layout.clusters}
        by_name = {m.name: m for m in usable}
        if self.provisioners.get("rke_binary"):  # the platform's rke: the lab's files of each RKE1 cluster
            self.provisioners["rke_binary"] = str(write_wrapper(state, {
                p.name: {"kubeconfig": str(apis[p.name].kubeconfig_path), "known_hosts": str(known_hosts),
                         "ssh_key_path": str(key)} for p in self.layout.clusters if p.provider == "rke1"}))

        def build(p: ClusterPlan) -> dict[str, Any]:
            api = apis[p.name]
            if p.provider == "rke1":
                return rke1.build(p, state / p.name, ssh_key=key, api_kubeconfig=api.kubeconfig_path,
                                  known_hosts=known_hosts, timeout=opts.timeout_seconds + 30)
            return rke2.build(p, by_name, key=key, known_hosts=known_hosts,
                              api_kubeconfig=api.kubeconfig_path, kube_dir=api.state_dir.parent,
                              token_file=state / p.name / "node-token",
                              heartbeat=opts.heartbeat_seconds, timeout=opts.timeout_seconds)

        with ThreadPoolExecutor(max_workers=max(1, len(self.layout.clusters))) as pool:
            futures = [(p, pool.submit(build, p)) for p in self.layout.clusters]
        for p, fut in futures:
            entry = describe(p, apis[p.name].url)
            try:
                entry.update(fut.result(), ready=True)
            except Exception as exc:  # noqa: BLE001 - a cluster that failed must not stop the lab
                entry.update(ready=False, error=str(exc))
                lab.notice(f"lab clusters: {p.name} did not come up: {exc}")
            self.entries[p.name] = entry
        self.started_in = time.monotonic() - t0
        log.info("lab clusters %s up in %.1f s", ", ".join(self.entries), self.started_in)

    def _wipe_leftovers(self, machines: list, key: Path, known_hosts: Path) -> None:
        dirty = [m for m in machines if access.leftovers(m)]
        if not dirty:
            return

        def wipe(machine) -> None:
            try:
                session = access.open_session(machine, key, known_hosts)
                try:
                    access.wipe(session)
                finally:
                    session.close()
            except SSHFailure as exc:
                self._notice(f"lab clusters: could not clean {machine.name}: {exc}")

        log.info("lab clusters: cleaning what an earlier lab run left on %s",
                 ", ".join(m.name for m in dirty))
        with ThreadPoolExecutor(max_workers=min(16, len(dirty))) as pool:
            list(pool.map(wipe, dirty))
        self.wiped = [m.name for m in dirty]

    def stop(self) -> None:
        """Nothing of its own runs: the machines' processes end with the machines."""

    def status(self) -> dict[str, Any]:
        return {"clusters": list(self.entries.values()), "free_machines": self.layout.free,
                "provisioners": self.provisioners,
                "skipped": self.skipped or None, "wiped_leftovers_on": self.wiped,
                "started_in_seconds": round(self.started_in, 3)}


def provisioners(kube: Any, opts: ClusterOptions) -> dict[str, str]:
    """How the platform's executor provisions nodes of these lab clusters (its
    ``rke_binary`` and ``rke2_install_command`` settings): the ``rke`` stand-in and the
    RKE2 stand-in's installer, with the kube directory and heartbeat the lab's own nodes
    use. Published so ``autorke up`` can hand them on without importing the lab."""
    try:
        rke = str(rke_path())
    except FileNotFoundError:
        rke = ""
    return {"rke_binary": rke,
            "rke2_install_command": install_command(kube.state_dir, heartbeat_s=opts.heartbeat_seconds)}


def describe(p: ClusterPlan, api_url: str) -> dict[str, Any]:
    """A cluster as the platform imports it (see the package docstring)."""
    nodes = []
    for m in p.members:
        node = {"machine": m.machine, "hostname": m.machine, "address": m.address,
                "port": m.port, "roles": sorted(m.roles)}
        if p.provider == "rke2":
            node["rke2_type"] = "server" if m.core else "agent"
        nodes.append(node)
    return {"name": p.name, "provider": p.provider, "api_url": api_url,
            "cluster_cidr": rke1.CLUSTER_CIDR, "service_cidr": rke1.SERVICE_CIDR, "nodes": nodes}
