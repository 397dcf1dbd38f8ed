"""The lab runtime component (``autorke lab up``): one Kubernetes API per lab cluster.

Options (``--set key=value``): ``kube.clusters`` (comma-separated names, default
``rke2-lab,rke1-lab``), ``kube.base_port`` (6443; a port in use falls back to a free one,
with a notice), ``kube.node_grace_seconds`` (40), ``kube.hollow_nodes`` (0, per cluster),
``kube.workloads`` (``true``: a calico-node DaemonSet and a ``web`` ReplicaSet),
``kube.sans`` (comma-separated extra names/IPs for the serving certificate, e.g. the
address lab machines reach the host by).

Each cluster's ``kubeconfig.yaml``, ``token`` (0600) and ``ca.crt`` are in
``<state dir>/kube/<cluster>/``; ``status()`` (``components.kube`` in state.json) names
those files, never the token. Provisioner stand-ins that bring up a cluster the lab does
not have yet ask the control API: ``POST /lab/kube/clusters {"name": "c9"}`` starts one
(idempotent) and answers its entry; ``GET /lab/kube/clusters`` lists them.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from ..component import LabHost
from .background import ClusterThread
from .cluster import KubeClusterSettings, LabKubeCluster
from .fleet import DEFAULT_BASE_PORT

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class NewCluster(BaseModel):
    name: str


class KubeComponent:
    name = "kube"

    def __init__(self) -> None:
        self.thread: ClusterThread | None = None
        self.clusters: dict[str, LabKubeCluster] = {}
        self._options: dict[str, str] = {}
        self._state_dir = Path(".")
        self._host = "127.0.0.1"
        self._notice = print

    def start(self, lab: LabHost) -> None:
        self._options = dict(lab.config.options)
        self._state_dir = Path(lab.state_dir) / "kube"
        self._host = lab.config.host
        self._notice = lab.notice
        self.thread = ClusterThread()
        names = [n.strip() for n in self._options.get("kube.clusters",
                                                       "rke2-lab,rke1-lab").split(",")]
        for name in filter(None, names):
            self.ensure_cluster(name)
        router = APIRouter(prefix="/lab/kube")
        router.add_api_route("/clusters", self._list, methods=["GET"])
        router.add_api_route("/clusters", self._create, methods=["POST"])
        lab.app.include_router(router)

    @property
    def state_dir(self) -> Path:
        """Where each lab cluster keeps its files (``<name>/ca.crt``, kubeconfig, …)."""
        return self._state_dir

    def ensure_cluster(self, name: str) -> LabKubeCluster:
        if name in self.clusters:
            return self.clusters[name]
        assert self.thread is not None, "start the component first"
        base = int(self._options.get("kube.base_port", DEFAULT_BASE_PORT))
        settings = KubeClusterSettings(
            name=name, host=self._host, port=base + len(self.clusters) if base else 0,
            state_dir=self._state_dir / name,
            node_grace_seconds=float(self._options.get("kube.node_grace_seconds", 40)),
            hollow_nodes=int(self._options.get("kube.hollow_nodes", 0)),
            seed_workloads=self._options.get("kube.workloads", "true").lower() == "true",
            extra_sans=tuple(filter(None, self._options.get("kube.sans", "").split(","))))
        try:
            cluster = self.thread.start_cluster(settings)
        except OSError as exc:
            self._notice(f"lab kube: port {settings.port} for {name} unavailable ({exc}); "
                         "using a free port")
            settings.port = 0
            cluster = self.thread.start_cluster(settings)
        self.clusters[name] = cluster
        return cluster

    def stop(self) -> None:
        if self.thread is not None:
            self.thread.close()
            self.thread = None
        self.clusters.clear()

    def status(self) -> dict[str, Any]:
        return {"clusters": [c.describe() for c in self.clusters.values()]}

    def _list(self) -> dict[str, Any]:
        return self.status()

    def _create(self, body: NewCluster) -> dict[str, Any]:
        if not _NAME.match(body.name):
            raise HTTPException(422, "cluster name must be a DNS label")
        return self.ensure_cluster(body.name).describe()
