"""Run lab clusters on a private event loop thread, for synchronous callers: pytest
fixtures, benchmarks, a synchronous lab runtime.

``ClusterThread().start_cluster(settings)`` returns the started :class:`LabKubeCluster`;
``call(fn, *args)`` runs ``fn`` on the loop (the store is not thread-safe), e.g.
``thread.call(cluster.fill_hollow, 1000)``; ``close()`` stops every cluster and the thread.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .cluster import KubeClusterSettings, LabKubeCluster

T = TypeVar("T")
log = logging.getLogger(__name__)


class ClusterThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-kube",
                                        daemon=True)
        self._thread.start()
        self.clusters: list[LabKubeCluster] = []

    def start_cluster(self, settings: KubeClusterSettings) -> LabKubeCluster:
        cluster = LabKubeCluster(settings)
        asyncio.run_coroutine_threadsafe(cluster.start(), self._loop).result(timeout=60)
        self.clusters.append(cluster)
        return cluster

    def stop_cluster(self, cluster: LabKubeCluster) -> None:
        asyncio.run_coroutine_threadsafe(cluster.stop(), self._loop).result(timeout=30)
        self.clusters.remove(cluster)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def run() -> T:
            return fn(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=120)

    def close(self) -> None:
        for cluster in list(self.clusters):
            try:
                self.stop_cluster(cluster)
            except Exception:   # closing must go on to the other clusters and the loop
                log.exception("stopping lab cluster %s failed", cluster.name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
