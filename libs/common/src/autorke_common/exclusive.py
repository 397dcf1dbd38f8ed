"""Work that must run in one holder at a time across threads, processes and replicas
(a pool write on one cluster, a CMDB sync, one round of a periodic loop), held on the
database every replica shares, never in a process's memory:

* PostgreSQL (every multi-replica deployment): a session-level advisory lock on a
  connection of its own, keyed by the service's schema and the work's name (two platforms
  sharing one database never hold each other up). It is released when the work ends or,
  if the process dies, when its connection closes: a dead holder never leaves it behind.
* SQLite (the embedded, single-host default): an exclusive ``flock`` on a lock file per
  name beside the database file, which holds across the processes (and threads) that
  share that file and is released by the kernel when its holder dies. (SQLite's own write
  lock cannot be held across the work's own transactions without blocking them.) An
  in-memory database has one process by definition: a lock per name in it.

``with exclusive.hold(name, wait_s) as held:``: ``held`` is False when another holder kept
it for ``wait_s`` (0: do not wait); the caller then does nothing."""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

POLL_S = 0.05


def lock_key(name: str, scope: str = "") -> int:
    """A stable signed 64-bit key for the name (PostgreSQL advisory locks take bigint)."""
    digest = hashlib.sha256(f"autorke-exclusive:{scope}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


#: (name, seconds to wait) -> a section that yields whether it is held
Hold = Callable[[str, float], AbstractContextManager[bool]]


def _until(wait_s: float, try_once: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + wait_s
    while not try_once():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


@contextmanager
def _section(wait_s: float, take: Callable[[], bool], release: Callable[[], None]) -> Iterator[bool]:
    """Held (True) once ``take`` succeeds within ``wait_s``, released at the end; else False."""
    if not _until(wait_s, take):
        yield False
        return
    try:
        yield True
    finally:
        release()


def local_sections() -> Hold:
    """Sections within this process only (one lock per name): for an in-memory database,
    which has one process by definition, and for tests of what takes a :data:`Hold`."""
    guard = threading.Lock()
    locks: dict[str, threading.Lock] = {}

    def hold(name: str, wait_s: float = 0.0) -> AbstractContextManager[bool]:
        with guard:
            lock = locks.setdefault(name, threading.Lock())
        return _section(wait_s, lambda: lock.acquire(blocking=False), lock.release)
    return hold


class Exclusive:
    """The named exclusive sections of one service (``scope``: its schema)."""

    def __init__(self, engine: Engine, scope: str = "") -> None:
        self.engine = engine
        self.scope = scope
        url = make_url(str(engine.url))
        self._sqlite = url.get_backend_name() == "sqlite"
        db = url.database if self._sqlite else None
        self._dir = Path(f"{db}.locks") if db and db != ":memory:" else None
        self._local = local_sections()

    @contextmanager
    def hold(self, name: str, wait_s: float = 0.0) -> Iterator[bool]:
        if not self._sqlite:
            section = self._advisory(name, wait_s)
        elif self._dir is not None:
            section = self._file(name, wait_s)
        else:
            section = self._local(name, wait_s)
        with section as held:
            yield held

    @contextmanager
    def _advisory(self, name: str, wait_s: float) -> Iterator[bool]:
        key = lock_key(name, self.scope)
        conn = self.engine.connect()

        def take() -> bool:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()   # the lock is the session's; no transaction stays open
            return got

        def release() -> None:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        try:
            with _section(wait_s, take, release) as held:
                yield held
        finally:
            conn.close()

    @contextmanager
    def _file(self, name: str, wait_s: float) -> Iterator[bool]:
        assert self._dir is not None
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / f"{lock_key(name, self.scope) & (2**64 - 1):016x}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

        def take() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False
        try:
            with _section(wait_s, take, lambda: fcntl.flock(fd, fcntl.LOCK_UN)) as held:
                yield held
        finally:
            os.close(fd)
