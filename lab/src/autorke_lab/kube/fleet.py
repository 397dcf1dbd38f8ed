"""The lab runtime's Kubernetes component: N lab clusters in one process.

Each cluster gets its own port (``base_port`` + index; DESIGN.md: lab Kubernetes APIs from
6443), CA, token and state directory ``<state_dir>/kube/<cluster>/`` holding
``kubeconfig.yaml``, ``token`` and ``ca.crt``. ``start()``/``stop()`` are coroutines run on
the runtime's event loop; ``status()`` is what ``autorke lab status --json`` shows.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cluster import KubeClusterSettings, LabKubeCluster

DEFAULT_BASE_PORT = 6443


class KubeFleet:
    name = "kube"

    def __init__(self, settings: Sequence[KubeClusterSettings]) -> None:
        self.clusters = [LabKubeCluster(s) for s in settings]

    @classmethod
    def for_clusters(cls, names: Sequence[str], state_dir: Path, *, host: str = "127.0.0.1",
                     base_port: int = DEFAULT_BASE_PORT, **common: Any) -> KubeFleet:
        """One cluster per name; ``base_port=0`` picks free ports (tests)."""
        return cls([KubeClusterSettings(
            name=name, host=host, port=base_port + i if base_port else 0,
            state_dir=Path(state_dir) / "kube" / name, **common)
            for i, name in enumerate(names)])

    def cluster(self, name: str) -> LabKubeCluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    async def start(self) -> None:
        started = []
        try:
            for cluster in self.clusters:
                await cluster.start()
                started.append(cluster)
        except BaseException:
            for cluster in reversed(started):
                await cluster.stop()
            raise

    async def stop(self) -> None:
        for cluster in reversed(self.clusters):
            await cluster.stop()

    def status(self) -> dict[str, Any]:
        return {"clusters": [c.describe() for c in self.clusters]}

