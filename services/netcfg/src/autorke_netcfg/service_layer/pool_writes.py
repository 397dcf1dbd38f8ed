"""netcfg's own pool writes, made visible to the drift check before they reach the cluster.

Writing a Calico IPPool and recording it cannot be one transaction: the cluster is
written first and the record committed after (a ticket's apply also writes the nodes and
peers and verifies them in between). So every pool write goes in three steps:

1. :func:`begin` commits a mark on the pool's record (a fresh ``write_id``, who, and
   ``write_started_at``) *before* the cluster is touched;
2. the cluster write;
3. :func:`finish`, in the unit of work that records the outcome and announces it, clears
   ``write_started_at``; or :func:`abandon`, when the write failed or was undone.

The drift check (``service_layer.drift``) skips a pool while its mark says a write is in
flight and only judges pools whose marks held still while it listed the cluster, so no
replica ever reports a write in flight, or one that finished while it read, as drift. The
marks live in the database, not in a process, so they hold across replicas.

A deleted pool keeps an empty record (``spec == {}``) rather than losing its row: a row
that came and went while the check read the cluster would leave no mark to see. The drift
check removes such rows once the cluster no longer has the pool.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from autorke_common.envelope import utcnow
from autorke_netcfg.adapters.orm import PoolRow
from autorke_netcfg.service_layer.ports import Ports
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Write:
    cluster: str
    pool: str
    id: str


def begin(ports: Ports, cluster: str, pool: str, by: str) -> Write:
    """Mark a write of ``pool`` as in flight, committed before the cluster is written."""
    write = Write(cluster, pool, uuid.uuid4().hex)
    with ports.uow() as uow:
        row = uow.pools.locked(cluster, pool) or PoolRow(cluster=cluster, name=pool, spec={})
        row.write_id, row.write_by, row.write_started_at = write.id, by, utcnow()
        uow.pools.add(row)
        uow.commit()
    return write


def finish(uow: UnitOfWork, write: Write, spec: dict[str, Any] | None,
           actor: str | None) -> None:
    """Record what was written (``None``: the pool was deleted) in the caller's unit of
    work, and clear the mark unless another write has begun on the pool since."""
    row = uow.pools.locked(write.cluster, write.pool) or PoolRow(cluster=write.cluster, name=write.pool)
    row.spec, row.drift = spec or {}, None
    row.updated_by, row.updated_at = actor, utcnow()
    if row.write_id == write.id:
        row.write_started_at = None
    uow.pools.add(row)


def abandon(ports: Ports, write: Write) -> None:
    """The write failed, was undone or is not to be recorded: clear its mark, so the drift
    check judges the pool again (whatever the cluster holds now is then drift)."""
    try:
        with ports.uow() as uow:
            row = uow.pools.locked(write.cluster, write.pool)
            if row is not None and row.write_id == write.id:
                row.write_started_at = None
                uow.pools.add(row)
                uow.commit()
    except Exception:   # never hide the failure that got us here
        log.exception("could not clear the write mark of pool %s/%s; the drift check skips "
                      "it until the mark is older than the grace period", write.cluster,
                      write.pool)


@contextmanager
def writing(ports: Ports, cluster: str, pool: str, by: str) -> Iterator[Write]:
    """``begin`` a write; ``abandon`` it if the block raises. The block ends the write
    with :func:`finish` in its recording unit of work."""
    write = begin(ports, cluster, pool, by)
    try:
        yield write
    except BaseException:
        abandon(ports, write)
        raise
