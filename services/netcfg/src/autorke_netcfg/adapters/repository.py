"""netcfg's repositories: the only code that queries its tables. The unit of work
(:mod:`autorke_netcfg.adapters.unit_of_work`) hands one of each out over its session
(``uow.clusters``, ``uow.pools``, ``uow.tickets``, ``uow.callbacks``); the service layer
sees only these methods (declared as protocols in
:mod:`autorke_netcfg.service_layer.unit_of_work`), never the session.

``locked`` reads take the row lock for the rest of the transaction on PostgreSQL
(``SELECT … FOR UPDATE``); SQLite serialises writers instead.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session
from sqlmodel import select

from autorke_common.db import keyset, serialize
from autorke_common.rest import Cursor
from autorke_netcfg.adapters.orm import CallbackRow, ClusterRow, PoolChangeRow, PoolRow, TicketRow
from autorke_netcfg.domain.ticket_rules import SUBMITTED


class ClusterRepository:
    """The clusters netcfg learned from inventory."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, name: str) -> ClusterRow | None:
        return self.session.get(ClusterRow, name)

    def add(self, row: ClusterRow) -> None:
        self.session.add(row)

    def with_kubeconfig(self) -> list[ClusterRow]:
        """Every cluster netcfg can reach (it has a kubeconfig on record)."""
        rows = self.session.execute(select(ClusterRow).order_by(ClusterRow.name)).scalars()
        return [r for r in rows if r.kubeconfig_sealed]

    def page(self, limit: int, after: Cursor | None) -> list[ClusterRow]:
        """Up to ``limit + 1`` clusters by name, after the cursor's."""
        stmt = keyset(select(ClusterRow), ClusterRow.name, ClusterRow.name, after, limit)
        return list(self.session.execute(stmt).scalars())


class PoolRepository:
    """netcfg's record of each pool it wrote, with the marks of the write in flight."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, cluster: str, name: str) -> PoolRow | None:
        return self.session.get(PoolRow, (cluster, name))

    def locked(self, cluster: str, name: str) -> PoolRow | None:
        """The pool's record, locked for this transaction."""
        return self.session.execute(
            select(PoolRow).where(PoolRow.cluster == cluster, PoolRow.name == name)
            .with_for_update()).scalar_one_or_none()

    def of_cluster(self, cluster: str, locked: bool = False) -> list[PoolRow]:
        """Every record of the cluster's pools (``locked``: all of them locked)."""
        stmt = select(PoolRow).where(PoolRow.cluster == cluster)
        return list(self.session.execute(stmt.with_for_update() if locked else stmt).scalars())

    def add(self, row: PoolRow) -> None:
        self.session.add(row)

    def delete(self, row: PoolRow) -> None:
        self.session.delete(row)


class PoolChangeRepository:
    """The open ``ippool.*`` changes, by change id."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, change_id: str) -> PoolChangeRow | None:
        return self.session.get(PoolChangeRow, change_id)

    def of_cluster(self, cluster: str) -> list[PoolChangeRow]:
        stmt = select(PoolChangeRow).where(PoolChangeRow.cluster == cluster).order_by(PoolChangeRow.created_at)
        return list(self.session.execute(stmt).scalars())

    def add(self, row: PoolChangeRow) -> None:
        self.session.add(row)

    def delete(self, row: PoolChangeRow) -> None:
        self.session.delete(row)


class TicketRepository:
    """Flat-network tickets."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, ticket_id: str) -> TicketRow | None:
        return self.session.get(TicketRow, ticket_id)

    def locked(self, ticket_id: str) -> TicketRow | None:
        """The ticket, locked for this transaction."""
        return self.session.execute(select(TicketRow).where(TicketRow.id == ticket_id)
                                    .with_for_update()).scalar_one_or_none()

    def add(self, row: TicketRow) -> None:
        self.session.add(row)

    def id_for_vcalico(self, vcalico_ticket_id: str) -> str | None:
        """Our ticket that VCalico knows as ``vcalico_ticket_id`` (None: not recorded yet)."""
        return self.session.execute(select(TicketRow.id).where(
            TicketRow.vcalico_ticket_id == vcalico_ticket_id)).scalar_one_or_none()

    def submitted_before(self, deadline: datetime) -> list[str]:
        """The tickets submitted to VCalico before ``deadline`` and still waiting."""
        return list(self.session.execute(select(TicketRow.id).where(
            TicketRow.status == SUBMITTED, TicketRow.submitted_at < deadline)).scalars())

    def page(self, limit: int, after: Cursor | None, cluster: str | None = None,
             status: str | None = None) -> list[TicketRow]:
        """Up to ``limit + 1`` tickets, newest first (ties by id), after the cursor's."""
        stmt = select(TicketRow)
        if cluster:
            stmt = stmt.where(TicketRow.cluster == cluster)
        if status:
            stmt = stmt.where(TicketRow.status == status)
        stmt = keyset(stmt, TicketRow.created_at, TicketRow.id, after, limit, descending=True)
        return list(self.session.execute(stmt).scalars())


class CallbackRepository:
    """Every verified VCalico callback, by its ``event_id``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, event_id: str) -> CallbackRow | None:
        return self.session.get(CallbackRow, event_id)

    def add(self, row: CallbackRow) -> None:
        self.session.add(row)

    def serialize(self, vcalico_ticket_id: str) -> None:
        """Callbacks and the submission of one VCalico ticket, one transaction at a time."""
        serialize(self.session, f"vcalico-ticket:{vcalico_ticket_id}")

    def held(self, vcalico_ticket_id: str) -> list[CallbackRow]:
        """Callbacks held because they beat the submission record, oldest first."""
        return list(self.session.execute(select(CallbackRow).where(
            CallbackRow.ticket_id == vcalico_ticket_id, CallbackRow.outcome == "held")
            .order_by(CallbackRow.received_at)).scalars())
