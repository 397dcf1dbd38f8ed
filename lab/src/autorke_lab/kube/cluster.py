"""One lab cluster's API server: store, registry, controllers and an HTTPS endpoint.

``LabKubeCluster(KubeClusterSettings(name="c1")).start()`` inside a running event loop
binds the port (0 picks a free one), issues the cluster's CA and serving certificate,
writes ``kubeconfig.yaml``, ``token`` and ``ca.crt`` into the state directory, seeds the
namespaces (and, if asked, a calico-node DaemonSet and a ``web`` ReplicaSet so drains
have pods to evict), starts uvicorn with TLS and the controller loop. ``stop()`` undoes
all of it. Synchronous callers use :mod:`autorke_lab.kube.background`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from .app import build_app
from .hollow import fill_hollow_nodes
from .lifecycle import NodeLifecycleController
from .nodes import DEFAULT_KUBELET_VERSION
from .pki import issue_serving_certificates, kubeconfig, kubeconfig_yaml, new_token
from .registry import Registry
from .resources import DAEMONSETS, NAMESPACES, NODES, REPLICASETS
from .store import ObjectStore
from .workloads import WorkloadController

log = logging.getLogger(__name__)
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class KubeClusterSettings:
    name: str
    host: str = "127.0.0.1"
    port: int = 0                          # 0: a free port
    state_dir: Path | None = None          # None: a private temporary directory
    token: str | None = None               # None: a new random token
    node_grace_seconds: float = 40.0       # kube-controller-manager's node-monitor-grace-period
    kubernetes_version: str = DEFAULT_KUBELET_VERSION
    seed_workloads: bool = True            # calico-node DaemonSet, web ReplicaSet
    web_replicas: int = 4
    hollow_nodes: int = 0
    hollow_pods_per_node: int = 0
    extra_sans: tuple[str, ...] = ()       # more names/IPs the serving certificate covers


class LabKubeCluster:
    def __init__(self, settings: KubeClusterSettings) -> None:
        self.settings = settings
        self.store = ObjectStore()
        self.registry = Registry(self.store)
        self.lifecycle = NodeLifecycleController(self.store, settings.node_grace_seconds)
        self.workloads = WorkloadController(self.store)
        self.token = settings.token or new_token()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.port = settings.port
        self.state_dir = Path(settings.state_dir) if settings.state_dir else None
        self.kubeconfig: dict[str, Any] = {}

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def url(self) -> str:
        return f"https://{self.settings.host}:{self.port}"

    @property
    def kubeconfig_path(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / "kubeconfig.yaml"

    @property
    def ca_path(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / "ca.crt"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "port": self.port,
                "kubeconfig": str(self.kubeconfig_path), "ca": str(self.ca_path),
                "token_file": str(self.state_dir / "token") if self.state_dir else None,
                "version": self.settings.kubernetes_version}

    async def start(self) -> None:
        settings = self.settings
        if self.state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"lab-kube-{settings.name}-")
            self.state_dir = Path(self._tmp.name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
        # listening socket says so, and without it every answer waits ~40 ms (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        certs = issue_serving_certificates(settings.name, settings.host, settings.extra_sans)
        self._write("ca.crt", certs.ca_pem)
        self._write("tls.crt", certs.cert_pem)
        self._write("tls.key", certs.key_pem, private=True)
        self._write("token", self.token.encode(), private=True)
        self.kubeconfig = kubeconfig(settings.name, self.url, certs.ca_pem, self.token)
        self._write("kubeconfig.yaml", kubeconfig_yaml(self.kubeconfig).encode(), private=True)
        self._seed()
        app = build_app(self.registry, {self.token}, settings.kubernetes_version,
                        f"{settings.host}:{self.port}")
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off",
            ssl_certfile=str(self.state_dir / "tls.crt"),
            ssl_keyfile=str(self.state_dir / "tls.key"), timeout_graceful_shutdown=1,
            timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._tasks.append(asyncio.create_task(self._server.serve(sockets=[sock])))
        self._tasks.append(asyncio.create_task(self._control_loop()))
        while not self._server.started:
            if self._tasks[0].done():
                self._tasks[0].result()
            await asyncio.sleep(0.01)
        log.info("lab kube cluster %s serving on %s", settings.name, self.url)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks[1:]:
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._tmp is not None:
            self._tmp.cleanup()

    def fill_hollow(self, count: int, pods_per_node: int = 0, prefix: str = "hollow-") -> list[str]:
        """Add hollow nodes; call on the cluster's loop (``ClusterThread.call``)."""
        start = sum(1 for n in self.store.list(NODES)
                    if n["metadata"]["name"].startswith(prefix))
        return fill_hollow_nodes(self.store, count, pods_per_node=pods_per_node, prefix=prefix,
                                 start=start, kubelet_version=self.settings.kubernetes_version)

    def _write(self, name: str, data: bytes, private: bool = False) -> None:
        assert self.state_dir is not None
        path = self.state_dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)

    def _seed(self) -> None:
        for namespace in SYSTEM_NAMESPACES:
            if self.store.find(NAMESPACES, "", namespace) is None:
                self.registry.create(NAMESPACES, "", {"metadata": {"name": namespace}})
        if self.settings.seed_workloads:
            self._seed_workloads()
        if self.settings.hollow_nodes:
            self.fill_hollow(self.settings.hollow_nodes, self.settings.hollow_pods_per_node)

    def _seed_workloads(self) -> None:
        calico = {"k8s-app": "calico-node"}
        self.registry.create(DAEMONSETS, "kube-system", {
            "metadata": {"name": "calico-node", "labels": calico},
            "spec": {"selector": {"matchLabels": calico}, "template": {
                "metadata": {"labels": calico},
                "spec": {"hostNetwork": True, "priorityClassName": "system-node-critical",
                         "tolerations": [{"operator": "Exists"}],
                         "containers": [{"name": "calico-node",
                                         "image": "docker.io/calico/node:v3.28.1"}]}}}})
        web = {"app": "web"}
        self.registry.create(REPLICASETS, "default", {
            "metadata": {"name": "web-7d9c8b5f4", "labels": web},
            "spec": {"replicas": self.settings.web_replicas, "selector": {"matchLabels": web},
                     "template": {"metadata": {"labels": web}, "spec": {"containers": [
                         {"name": "web", "image": "docker.io/library/nginx:1.27"}]}}}})

    async def _control_loop(self) -> None:
        period = min(1.0, max(0.1, self.settings.node_grace_seconds / 4))
        while True:
            try:
                await asyncio.wait_for(self.store.changed.wait(), period)
            except TimeoutError:
                pass
            self.store.changed.clear()
            started = time.perf_counter()
            try:
                self.lifecycle.tick()
                self.workloads.tick()
            except Exception:   # a controller bug must not stop the API server
                log.exception("lab kube controllers of %s failed", self.name)
            # Let bursts of writes settle into one pass, and keep the controllers (which
            # walk every pod: ~30 ms at 1,000 hollow nodes) to about a third of the loop.
            await asyncio.sleep(max(0.1, 2 * (time.perf_counter() - started)))
