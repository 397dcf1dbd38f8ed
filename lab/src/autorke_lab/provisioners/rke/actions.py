"""The rke sub-commands, step by step as RKE1 runs them (``cmd/up.go``, ``cmd/remove.go``,
``cmd/etcd.go``, ``cmd/cert.go``), including the behaviours AutoRKE must plan around:

- ``up --update-only`` still dials every node, redeploys certificates to every node, runs
  the worker plane on every node and uncordons every existing node; only the etcd and
  control-plane containers are skipped (and not even that on a new cluster);
- ``up`` (with or without ``--update-only``) reconciles nodes that are in the state file but
  no longer in cluster.yml (``cluster/reconcile.go`` reconcileWorker): each is cordoned and
  deleted from Kubernetes, then dialled on its own and its worker plane removed and the
  host cleaned; a host that cannot be reached or cleaned is only a warning;
- ``etcd snapshot-restore`` cleans every node (workers included) and rebuilds the cluster;
- ``remove`` also deletes the local etcd snapshots, the state file and the kubeconfig.

Nodes are handled in parallel, one SSH session each; any node failing fails the run.
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import yaml

from . import certs, hosts
from . import components as comp
from .config import ClusterConfig, Node, nodes_of
from .kubeapi import LabAPI, delete_node, patch_node, wait_ready
from .output import Console
from .ssh import Bastion, NodeSession, SSHFailure

READY_TIMEOUT_S = 60


class RunFailed(Exception):
    """The run stopped; the message is what rke prints before exiting non-zero."""


class Run:
    """One rke invocation against one cluster.yml: SSH sessions and the lab API."""

    def __init__(self, config: ClusterConfig, console: Console) -> None:
        self.config = config
        self.console = console
        self.api = LabAPI.from_kubeconfig(config.lab_kubeconfig)
        self.version = comp.k8s_version(config.kubernetes_version)
        self._stack = ExitStack()
        self.sessions: dict[str, NodeSession] = {}
        self.bastion: Bastion | None = None

    def __enter__(self) -> Run:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def dial_all(self) -> None:
        """RKE's tunnel setup: one SSH session to EVERY node, whatever the command."""
        for node, session in self.each(self.dial):
            self.sessions[node.address] = session

    def dial(self, node: Node) -> NodeSession:
        self.console.info(f"[dialer] Setup tunnel for host [{node.address}]")
        session = NodeSession(node.ssh, self.config.known_hosts, self._bastion())
        self._stack.callback(session.close)
        hosts.check_docker(session)
        return session

    def _bastion(self) -> Bastion | None:
        if self.config.bastion is None:
            return None
        if self.bastion is None:
            self.bastion = Bastion(self.config.bastion, self.config.known_hosts)
            self._stack.callback(self.bastion.close)
        return self.bastion

    def each(self, step: Callable, nodes=None) -> list[tuple[Node, object]]:
        nodes = list(self.config.nodes if nodes is None else nodes)
        if not nodes:
            return []
        with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
            futures = [(n, pool.submit(step, n)) for n in nodes]
        results, errors = [], []
        for node, fut in futures:
            try:
                results.append((node, fut.result()))
            except SSHFailure as exc:
                errors.append(str(exc))
        if errors:
            raise RunFailed("; ".join(errors))
        return results

    def session(self, node: Node) -> NodeSession:
        return self.sessions[node.address]


def _bundle(run: Run, rotate=False, rotate_ca=False) -> dict:
    old = certs.read_state(run.config.state_path)
    existing = old["currentState"]["certificatesBundle"] if old else None
    if existing and not rotate:
        return existing
    run.console.info("[certificates] Generating Kubernetes certificates")
    return certs.generate_bundle(run.config, existing, rotate_ca=rotate_ca)


def _write_outputs(run: Run, bundle: dict) -> None:
    certs.write_state(run.config.state_path, certs.full_state(run.config, bundle))
    run.console.info(f"Saving full cluster state to file [{run.config.state_path.name}]")
    kubeconfig = run.api.kubeconfig(run.config.cluster_name, "kube-admin-" + run.config.cluster_name)
    certs.write_secret(run.config.kubeconfig_path, yaml.safe_dump(kubeconfig))
    run.console.info(f"Wrote kubeconfig file [{run.config.kubeconfig_path.name}]")


def _deploy(run: Run, bundle: dict, update_only: bool, restart_kubelet=False) -> None:
    run.console.info("[certificates] Deploying kubernetes certificates to Cluster nodes")
    run.each(lambda n: hosts.deploy_certificates(run.session(n), n, bundle, run.api))
    present = {n.address: c for n, c in run.each(lambda n: hosts.containers(run.session(n)))}
    for plane in ("etcd", "controlplane"):
        if update_only:
            run.console.info(f"[{plane}] Skipping {plane} plane: --update-only")
            continue
        run.console.info(f"[{plane}] Building up {plane} plane..")
        run.each(lambda n, p=plane: hosts.run_containers(
            run.session(n), n, comp.plane(n)[p], run.version, present[n.address]),
            run.config.with_role(plane))
    run.console.info("[worker] Building up Worker Plane..")

    def worker(n: Node) -> None:
        hosts.run_containers(run.session(n), n, comp.plane(n)["worker"], run.version,
                            present[n.address])
        hosts.start_kubelet(run.session(n), n,
                            (run.config.lab_python, run.config.lab_python_env), run.version,
                            restart=restart_kubelet)

    run.each(worker)


def _configure(run: Run, uncordon: bool) -> None:
    names = [n.hostname for n in run.config.nodes]
    with run.api.client() as client:
        missing = wait_ready(client, names, READY_TIMEOUT_S)
        if missing:
            raise RunFailed(f"[worker] nodes not Ready after {READY_TIMEOUT_S}s: {missing}")
        for node in run.config.nodes:
            patch: dict = {"metadata": {"labels": comp.role_labels(node)}}
            if uncordon:  # processWorkerPlaneForUpgrade: cordoned nodes come back
                patch["spec"] = {"unschedulable": False}
            patch_node(client, node.hostname, patch)


def _reconcile_removed(run: Run, old_state: dict | None) -> None:
    """Nodes the state file knows and cluster.yml no longer names: cordoned, their worker
    plane removed and the host cleaned (a host that cannot be reached is a warning), then
    deleted from Kubernetes. Real rke deletes before it cleans; the lab kubelet registers
    its Node again when it finds it deleted, so here it is stopped first."""
    if not old_state:
        return
    current = {n.address for n in run.config.nodes}
    old_raw = old_state.get("currentState", {}).get("rkeConfig") or {}
    removed = [n for n in nodes_of(old_raw, run.config.path.parent) if n.address not in current]
    if not removed:
        return
    run.console.info("[reconcile] Check worker hosts to be deleted")
    with run.api.client() as client:
        for node in removed:
            run.console.info(f"[hosts] Cordoning host [{node.address}]")
            response = client.patch(f"/api/v1/nodes/{node.hostname}", json={"spec": {"unschedulable": True}},
                                    headers={"Content-Type": "application/strategic-merge-patch+json"})
            if response.status_code != 404:
                response.raise_for_status()
            try:
                hosts.clean(run.dial(node), keep_snapshots=True)
            except SSHFailure as exc:
                run.console.warn(f"[reconcile] Couldn't clean up worker node [{node.address}]: {exc}")
            run.console.info(f"[hosts] Deleting host [{node.address}] from the cluster")
            delete_node(client, node.hostname)
            run.console.info(f"[hosts] Successfully deleted host [{node.address}] from the cluster")


def up(run: Run, update_only: bool) -> None:
    existing = run.config.state_path.exists()
    if update_only and not existing:
        run.console.warn("--update-only ignored: the cluster has no state yet")
        update_only = False
    run.dial_all()
    bundle = _bundle(run)
    _reconcile_removed(run, certs.read_state(run.config.state_path))
    _deploy(run, bundle, update_only)
    _write_outputs(run, bundle)
    _configure(run, uncordon=existing)
    run.console.info("Finished building Kubernetes cluster successfully")


def remove(run: Run) -> None:
    run.dial_all()
    run.console.info("[remove] Tearing down Kubernetes cluster")
    run.each(lambda n: hosts.clean(run.session(n), keep_snapshots=False))
    with run.api.client() as client:
        for node in run.config.nodes:
            delete_node(client, node.hostname)
    for path in (run.config.state_path, run.config.kubeconfig_path):
        path.unlink(missing_ok=True)
    run.console.info("Cluster removed successfully")


def snapshot_save(run: Run, name: str) -> None:
    run.dial_all()
    with run.api.client() as client:
        nodes = client.get("/api/v1/nodes").raise_for_status().json().get("items", [])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        meta = {"name": name, "cluster": run.config.cluster_name, "taken_at": time.time(),
                "nodes": [n["metadata"]["name"] for n in nodes]}
        z.writestr(f"backup/{name}", json.dumps(meta))
    etcd = run.config.with_role("etcd")
    run.console.info(f"[etcd] Saving snapshot [{name}] on all etcd hosts")
    run.each(lambda n: hosts.save_snapshot(run.session(n), name, buf.getvalue()), etcd)
    run.console.info("Finished saving/uploading snapshot [" + name + "] on all etcd hosts")


def snapshot_restore(run: Run, name: str) -> None:
    run.dial_all()
    found = run.each(lambda n: hosts.has_snapshot(run.session(n), name),
                     run.config.with_role("etcd"))
    if not any(has for _, has in found):
        raise RunFailed(f"failed to find snapshot [{name}] on any etcd host")
    bundle = _bundle(run)
    run.console.info("[etcd] Restoring snapshot: cleaning up every node of the cluster")
    run.each(lambda n: hosts.clean(run.session(n), keep_snapshots=True))
    with run.api.client() as client:
        for node in run.config.nodes:
            delete_node(client, node.hostname)
    _deploy(run, bundle, update_only=False)
    _write_outputs(run, bundle)
    _configure(run, uncordon=False)
    run.console.info("Finished restoring snapshot [" + name + "] on all etcd hosts")


def cert_rotate(run: Run, service: str | None, rotate_ca: bool) -> None:
    run.dial_all()
    bundle = _bundle(run, rotate=True, rotate_ca=rotate_ca)
    run.console.info("[certificates] Rotating Kubernetes cluster certificates")
    _deploy(run, bundle, update_only=False, restart_kubelet=True)

    def restart(n: Node) -> None:
        present = hosts.containers(run.session(n))
        wanted = [c for c in comp.ALL if c in present and (service is None or c == service)]
        hosts.restart_components(run.session(n), wanted)

    run.each(restart)
    _write_outputs(run, bundle)
    _configure(run, uncordon=False)
    run.console.info("Finished rotating certificates")
