"""M3: the per-cluster pool lock lives on the database, not in a process. Two replicas
(two engines on the same database, as two netcfg processes have) never hold the lock of
one cluster at once: the second waits, and gets ``pool-write-busy`` (503, retried on the
bus) if the first holds it past the timeout; another cluster's lock is free. On
PostgreSQL (``AUTORKE_TEST_DATABASE_URL``) it is an advisory lock, released when its
holder's connection closes; on SQLite a ``flock`` beside the database file."""
from __future__ import annotations

import threading
import time

import pytest

from autorke_common.db import make_engine
from autorke_common.errors import Problem
from autorke_netcfg.adapters.pool_locks import PoolLocks
from fixtures.waiting import wait


@pytest.fixture
def replicas(database):
    url, schema = database
    engines = [make_engine(url, schema), make_engine(url, schema)]
    yield [PoolLocks(e, timeout_s=0.5, scope=schema) for e in engines]
    for e in engines:
        e.dispose()


def test_m3_two_replicas_never_hold_one_clusters_pool_lock_at_once(replicas):
    first, second = replicas
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.hold("c1"):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(10)
    with pytest.raises(Problem) as caught, second.hold("c1"):
        pytest.fail("the second replica got the lock the first holds")
    assert caught.value.slug == "pool-write-busy" and caught.value.status == 503
    with second.hold("c2"):     # another cluster's pool writes are not held up
        pass
    release.set()
    thread.join(10)
    with second.hold("c1"):     # released: the next writer takes it
        pass


def test_m3_a_waiting_writer_gets_the_lock_as_soon_as_it_is_released(replicas):
    first, second = replicas
    second.timeout_s = 10.0
    order: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with first.hold("c1"):
            holding.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(10)
    with second.hold("c1"):
        order.append("second in")
    thread.join(10)
    wait(lambda: len(order) == 2, 5, "both writers ran")
    assert order == ["first done", "second in"]
