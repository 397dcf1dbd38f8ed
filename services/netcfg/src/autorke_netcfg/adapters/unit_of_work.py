"""netcfg's unit of work: the platform's (outbox, processed-message inbox, the only place
that commits) with netcfg's repositories on it, made afresh over each unit's session::

    with NetcfgUnitOfWork(db) as uow:
        ticket = uow.tickets.locked(ticket_id)
        ...
        uow.emit(envelope, aggregate=ticket.id)
        uow.commit()

A commit that a unique key refuses (the same row written concurrently by another unit)
raises :class:`AlreadyRecorded`, so the service layer can say "one effect" without
knowing the database's own errors.
"""
from __future__ import annotations

from typing import Self

from sqlalchemy.exc import IntegrityError

from autorke_common.outbox import UnitOfWork
from autorke_netcfg.adapters.repository import (
    CallbackRepository,
    ClusterRepository,
    PoolChangeRepository,
    PoolRepository,
    TicketRepository,
)


class AlreadyRecorded(Exception):
    """The commit lost a race: another unit recorded the same key first."""


class NetcfgUnitOfWork(UnitOfWork):
    clusters: ClusterRepository
    pools: PoolRepository
    pool_changes: PoolChangeRepository
    tickets: TicketRepository
    callbacks: CallbackRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.clusters = ClusterRepository(self.session)
        self.pools = PoolRepository(self.session)
        self.pool_changes = PoolChangeRepository(self.session)
        self.tickets = TicketRepository(self.session)
        self.callbacks = CallbackRepository(self.session)
        return self

    def commit(self) -> None:
        try:
            super().commit()
        except IntegrityError as exc:
            raise AlreadyRecorded(str(exc.orig)) from exc
