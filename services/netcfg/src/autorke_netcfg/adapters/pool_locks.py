"""The per-cluster lock every pool write of netcfg's holds, on the database, so that no
two writers (threads, processes, replicas) both pass the P7 overlap checks against the
same cluster and then both write: Calico itself never checks overlaps on the CRD.

A pool write spans several transactions and a cluster API call (the in-flight mark is
committed before the cluster is written, the record after: ``pool_writes``), so the lock
is held outside them, for the whole write: an :class:`autorke_common.exclusive.Exclusive`
section per cluster (a PostgreSQL advisory lock, or a ``flock`` beside the SQLite file).

A writer that cannot take the lock within ``timeout_s`` gets ``pool-write-busy`` (503,
retried on the bus); nothing was written."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from autorke_common.errors import Problem
from autorke_common.exclusive import Exclusive


def _busy(cluster: str, timeout_s: float) -> Problem:
    return Problem("pool-write-busy", "Another pool write holds the cluster", 503,
                   f"another writer held the pool lock of cluster {cluster} for more than {timeout_s:g} s; "
                   "nothing was written", cluster=cluster)


class PoolLocks:
    """``with locks.hold(cluster): ...`` around a whole pool write."""

    def __init__(self, engine: Engine, timeout_s: float = 30.0, scope: str = "") -> None:
        self.timeout_s = timeout_s
        self._sections = Exclusive(engine, scope)   # scope: the service's schema

    @contextmanager
    def hold(self, cluster: str) -> Iterator[None]:
        with self._sections.hold(f"pool-write:{cluster}", self.timeout_s) as held:
            if not held:
                raise _busy(cluster, self.timeout_s)
            yield
