"""Locks on the database, exclusive by primary key: a machine is in at most one open change
(``machine_locks``), and one change at a time runs a config-writing step on a cluster
(``cluster_locks``). A lock whose holder is no longer open (closed, or gone) is recovered,
not leaked: the next taker replaces it and a ``orchestrator.lock.recovered`` event says so.

The unit of work hands them out as ``uow.locks`` (:class:`Locks`); ``uow.locks.config(...)``
is the saga's :class:`~autorke_orchestrator.domain.saga.ConfigLocks` port."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from autorke_common.catalogue.orchestrator import LockRecovered
from autorke_common.db import savepoint
from autorke_common.envelope import utcnow
from autorke_orchestrator.adapters.orm import ChangeRow, ClusterLockRow, MachineLockRow

Recovered = Callable[[LockRecovered], None]


def _holder_open(session: Session, change_id: str) -> bool:
    row = session.get(ChangeRow, change_id)
    return row is not None and not row.closed


def _insert(session: Session, row: object) -> bool:
    try:
        with savepoint(session):
            session.add(row)
            session.flush()
        return True
    except IntegrityError:
        return False


class Locks:
    """The locks of one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock_machines(self, change_id: str, hosts: list[str], recovered: Recovered) -> dict[str, str]:
        """Lock every host for the change; returns {host: holder} of those held by another open
        change (then nothing is locked: the caller rolls back). Hosts are locked in one global
        order, so two changes naming the same hosts in different orders wait, never deadlock."""
        session = self.session
        held: dict[str, str] = {}
        for host in sorted(set(hosts)):
            if _insert(session, MachineLockRow(host=host, change_id=change_id, acquired_at=utcnow())):
                continue
            row = session.get(MachineLockRow, host)
            if row is None:  # released meanwhile
                if not _insert(session, MachineLockRow(host=host, change_id=change_id, acquired_at=utcnow())):
                    held[host] = "unknown"
                continue
            if row.change_id == change_id:
                continue
            if _holder_open(session, row.change_id):
                held[host] = row.change_id
                continue
            recovered(LockRecovered(change_id=change_id, lock=f"machine:{host}", held_by=row.change_id))
            row.change_id, row.acquired_at = change_id, utcnow()
            session.flush()
        return held

    def release_machines(self, change_id: str) -> None:
        self.session.execute(delete(MachineLockRow).where(MachineLockRow.change_id == change_id))

    def machine_holders(self, hosts: list[str]) -> dict[str, str]:
        rows = self.session.execute(select(MachineLockRow).where(MachineLockRow.host.in_(hosts))).scalars()
        return {r.host: r.change_id for r in rows}

    def config(self, recovered: Recovered) -> ClusterLocks:
        """The config locks as the saga takes and releases them (``recovered`` hears of a
        lock taken back from a change no longer open)."""
        return ClusterLocks(self.session, recovered)

    def release_config(self, cluster: str, change_id: str) -> None:
        ClusterLocks(self.session, lambda event: None).release(cluster, change_id)


class ClusterLocks:
    """The saga's :class:`~autorke_orchestrator.domain.saga.ConfigLocks` on one session."""

    def __init__(self, session: Session, recovered: Recovered) -> None:
        self.session = session
        self.recovered = recovered

    def acquire(self, cluster: str, change_id: str, step_id: str) -> bool:
        s = self.session
        if _insert(s, ClusterLockRow(cluster=cluster, change_id=change_id, step_id=step_id, acquired_at=utcnow())):
            return True
        row = s.get(ClusterLockRow, cluster)
        if row is None:
            return _insert(s, ClusterLockRow(cluster=cluster, change_id=change_id, step_id=step_id,
                                             acquired_at=utcnow()))
        if row.change_id == change_id:
            row.step_id = step_id
            return True
        if _holder_open(s, row.change_id):
            return False
        self.recovered(LockRecovered(change_id=change_id, lock=f"cluster:{cluster}", held_by=row.change_id))
        row.change_id, row.step_id, row.acquired_at = change_id, step_id, utcnow()
        s.flush()
        return True

    def release(self, cluster: str, change_id: str) -> None:
        self.session.execute(delete(ClusterLockRow).where(ClusterLockRow.cluster == cluster,
                                                          ClusterLockRow.change_id == change_id))
