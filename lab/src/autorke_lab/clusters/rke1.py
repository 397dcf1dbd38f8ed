"""The RKE1 lab cluster, built the way an operator builds one: write ``cluster.yml`` for
the chosen machines, run ``rke up`` (the ``autorke-lab-rke`` stand-in, as its own
process) and keep what it leaves next to cluster.yml: ``cluster.rkestate`` (0600, a
secret: every private key) and ``kube_config_cluster.yml`` (0600).

The stand-in does the real work over SSH, in parallel per node: certificates, the
planes' containers, the simulated kubelet unit; then it waits for every node to be Ready
on the cluster's lab API and labels the roles. Its console output goes to ``rke.log`` in
the same directory (it prints no secret).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from ..provisioners.rke import rke_path
from ..provisioners.rke.config import DEFAULT_K8S_VERSION, LAB_KEY
from .plan import ClusterPlan

CLUSTER_CIDR = "10.42.0.0/16"
SERVICE_CIDR = "10.43.0.0/16"


class BuildFailed(Exception):
    """A lab cluster did not come up; the message says where to look."""


def cluster_yml(plan: ClusterPlan, *, ssh_key: Path, api_kubeconfig: Path,
                known_hosts: Path) -> dict:
    return {
        "cluster_name": plan.name,
        "kubernetes_version": DEFAULT_K8S_VERSION,
        "ssh_key_path": str(ssh_key),
        "nodes": [{"address": m.address, "port": str(m.port), "user": "root",
                   "role": list(m.roles), "hostname_override": m.machine}
                  for m in plan.members],
        "services": {
            "etcd": {"snapshot": True},
            "kube-api": {"service_cluster_ip_range": SERVICE_CIDR},
            "kube-controller": {"cluster_cidr": CLUSTER_CIDR,
                                "service_cluster_ip_range": SERVICE_CIDR},
        },
        "network": {"plugin": "calico"},
        LAB_KEY: {"kubeconfig": str(api_kubeconfig), "known_hosts": str(known_hosts)},
    }


def build(plan: ClusterPlan, directory: Path, *, ssh_key: Path, api_kubeconfig: Path,
          known_hosts: Path, timeout: float) -> dict:
    """Write cluster.yml in ``directory``, run ``rke up``; the files, for the status."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "cluster.yml"
    # A lab start always builds a new cluster: the lab API behind it is new (new CA and
    # token), so a state from an earlier run would only make rke treat it as an update.
    for stale in ("cluster.rkestate", "kube_config_cluster.yml"):
        (directory / stale).unlink(missing_ok=True)
    config.write_text(yaml.safe_dump(cluster_yml(plan, ssh_key=ssh_key,
                                                 api_kubeconfig=api_kubeconfig,
                                                 known_hosts=known_hosts), sort_keys=False))
    log = directory / "rke.log"
    with open(log, "wb") as out:
        try:
            done = subprocess.run([str(rke_path()), "up", "--config", str(config)],
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                  cwd=directory, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BuildFailed(f"rke up did not finish in {timeout:.0f} s; see {log}") from None
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
        raise BuildFailed(f"rke up exited {done.returncode}: {' '.join(tail)} (see {log})")
    return {"cluster_yml": str(config), "rkestate": str(directory / "cluster.rkestate"),
            "kubeconfig": str(directory / "kube_config_cluster.yml"), "log": str(log)}
