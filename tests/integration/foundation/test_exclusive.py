"""Exclusive sections on the database every replica shares (``autorke_common.exclusive``):
two replicas (two engines, as two processes would have) never hold one name at once,
a second holder waits up to its deadline or gives up at once, other names are free,
and a round of a periodic loop marked ``exclusive`` runs in one replica while the other
skips it. On SQLite (a lock file beside the database) and on PostgreSQL (advisory locks)
when AUTORKE_TEST_DATABASE_URL is set."""
from __future__ import annotations

import threading
import time

from autorke_common.db import make_engine
from autorke_common.exclusive import Exclusive


def _replicas(database) -> tuple[Exclusive, Exclusive]:
    url, schema = database
    return Exclusive(make_engine(url, schema=schema), schema), Exclusive(make_engine(url, schema=schema), schema)


def test_two_replicas_never_hold_one_name_at_once(database):
    first, second = _replicas(database)
    with first.hold("cmdb-sync") as held:
        assert held
        with second.hold("cmdb-sync") as other:
            assert not other, "the second replica does not get what the first holds"
        with second.hold("drift") as free:
            assert free, "another name is another section"
        started = time.monotonic()
        with second.hold("cmdb-sync", wait_s=0.3) as waited:
            assert not waited and time.monotonic() - started >= 0.3
    with second.hold("cmdb-sync") as after:
        assert after, "released when the first holder leaves it"


def test_a_waiting_holder_gets_the_section_once_it_is_released(database):
    first, second = _replicas(database)
    entered = threading.Event()
    release = threading.Event()

    def hold_a_while() -> None:
        with first.hold("resume") as held:
            assert held
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold_a_while)
    holder.start()
    assert entered.wait(30)
    timer = threading.Timer(0.3, release.set)
    timer.start()
    try:
        with second.hold("resume", wait_s=30) as held:
            assert held and release.is_set()
    finally:
        holder.join(30)
        timer.cancel()


def test_only_one_replica_runs_a_round_of_an_exclusive_section(database):
    first, second = _replicas(database)
    running, most = [0], [0]
    lock = threading.Lock()
    gate = threading.Barrier(8)

    def round_(exclusive: Exclusive) -> None:
        gate.wait(30)
        with exclusive.hold("node-status") as held:
            if not held:
                return
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=round_, args=(r,)) for r in (first, second) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most[0] == 1


def test_two_transactions_that_serialize_on_a_name_never_both_miss_each_others_write(database):
    """The check-then-write race of a VCalico callback and its submission: each transaction
    looks for the other's row, then writes its own. Serialized on one name, the second to
    run always finds the first's row (unserialized, both can look before either commits)."""
    from sqlalchemy import Column, MetaData, String, Table, insert, select
    from sqlalchemy.orm import Session

    from autorke_common.db import serialize

    url, schema = database
    engine = make_engine(url, schema=schema)
    rows = Table("race_rows", MetaData(), Column("name", String(32), primary_key=True))
    rows.metadata.create_all(engine)
    first_looked, found = threading.Event(), {}

    def unit(me: str, other: str, pause: bool) -> None:
        with Session(engine) as session:
            serialize(session, "vcalico-ticket:VC-1")
            found[me] = session.execute(select(rows.c.name).where(rows.c.name == other)).first() is not None
            if pause:
                first_looked.set()
                time.sleep(0.3)  # the other is started meanwhile and must wait for this commit
            session.execute(insert(rows).values(name=me))
            session.commit()

    first = threading.Thread(target=unit, args=("callback", "submission", True))
    first.start()
    assert first_looked.wait(30)
    second = threading.Thread(target=unit, args=("submission", "callback", False))
    second.start()
    first.join(30)
    second.join(30)
    assert found == {"callback": False, "submission": True}, found
    engine.dispose()
