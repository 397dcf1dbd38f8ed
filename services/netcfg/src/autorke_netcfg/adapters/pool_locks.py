"""The per-cluster lock every pool write of netcfg's holds, on the database, so that no
two writers (threads, processes, replicas) both pass the P7 overlap checks against the
same cluster and then both write: Calico itself never checks overlaps on the CRD.

A pool write spans several transactions and a cluster API call (the in-flight mark is
committed before the cluster is written, the record after: ``pool_writes``), so the lock
is held outside them, for the whole write:

* PostgreSQL (every multi-replica deployment): a session-level advisory lock on a
  connection of its own, keyed by the service's schema and the cluster's name (two
  platforms sharing one database never hold each other up). It is released when the write ends
  or, if the process dies, when its connection closes: a dead writer never leaves it
  behind.
* SQLite (the embedded, single-host default): an exclusive ``flock`` on a lock file per
  cluster beside the database file, which holds across the processes (and threads) that
  share that file and is released by the kernel when its holder dies. (SQLite's own write
  lock cannot be held across the write's own transactions without blocking them.) An
  in-memory database has one process by definition: a lock per cluster in it.

A writer that cannot take the lock within ``timeout_s`` gets ``pool-write-busy`` (503,
retried on the bus); nothing was written."""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from autorke_common.errors import Problem

POLL_S = 0.05


def lock_key(cluster: str, scope: str = "") -> int:
    """A stable signed 64-bit key for the cluster (PostgreSQL advisory locks take bigint)."""
    digest = hashlib.sha256(f"autorke-netcfg-pool-write:{scope}:{cluster}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _busy(cluster: str, timeout_s: float) -> Problem:
    return Problem("pool-write-busy", "Another pool write holds the cluster", 503,
                   f"another writer held the pool lock of cluster {cluster} for more than {timeout_s:g} s; "
                   "nothing was written", cluster=cluster)


class PoolLocks:
    """``with locks.hold(cluster): ...`` around a whole pool write."""

    def __init__(self, engine: Engine, timeout_s: float = 30.0, scope: str = "") -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self.scope = scope   # the service's schema: whose pool writes these are
        url = make_url(str(engine.url))
        self._sqlite = url.get_backend_name() == "sqlite"
        db = url.database if self._sqlite else None
        self._dir = Path(f"{db}.pool-locks") if db and db != ":memory:" else None
        self._local: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, cluster: str) -> Iterator[None]:
        if not self._sqlite:
            with self._advisory(cluster):
                yield
        elif self._dir is not None:
            with self._file(cluster):
                yield
        else:
            with self._in_process(cluster):
                yield

    def _deadline_loop(self, cluster: str, try_once) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not try_once():
            if time.monotonic() >= deadline:
                raise _busy(cluster, self.timeout_s)
            time.sleep(POLL_S)

    @contextmanager
    def _advisory(self, cluster: str) -> Iterator[None]:
        key = lock_key(cluster, self.scope)
        conn = self.engine.connect()
        try:
            def take() -> bool:
                got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()   # the lock is the session's; no transaction stays open
                return got
            self._deadline_loop(cluster, take)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        finally:
            conn.close()

    @contextmanager
    def _file(self, cluster: str) -> Iterator[None]:
        assert self._dir is not None
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{lock_key(cluster, self.scope) & (2**64 - 1):016x}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            def take() -> bool:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    return False
            self._deadline_loop(cluster, take)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def _in_process(self, cluster: str) -> Iterator[None]:
        with self._guard:
            lock = self._local.setdefault(cluster, threading.Lock())
        if not lock.acquire(timeout=self.timeout_s):
            raise _busy(cluster, self.timeout_s)
        try:
            yield
        finally:
            lock.release()
