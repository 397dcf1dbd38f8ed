"""The inventory's unit of work: the common one (outbox, processed-message inbox, the only
commit) plus the inventory's repositories over its session, set on entering it."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Self

from autorke_common.db import savepoint
from autorke_common.outbox import Database, UnitOfWork
from autorke_common.signing import Signer
from autorke_inventory.adapters.repository import (
    ClusterRepository,
    ConfigRepository,
    DocumentRepository,
    JobRepository,
    MachineRepository,
    MembershipRepository,
    ProposalRepository,
    SyncCursorRepository,
)


class InventoryUnitOfWork(UnitOfWork):
    """``with uow: …; uow.commit()`` — what is not committed is rolled back on exit. Each
    entry opens a new session, so one object may serve several units one after another."""

    machines: MachineRepository
    clusters: ClusterRepository
    memberships: MembershipRepository
    configs: ConfigRepository
    documents: DocumentRepository
    proposals: ProposalRepository
    jobs: JobRepository
    sync_cursors: SyncCursorRepository
    signer: Signer | None

    def __init__(self, db: Database, signer: Signer | None = None) -> None:
        super().__init__(db)
        self.signer = signer  # None only for tools that send no command (bench)

    def __enter__(self) -> Self:
        super().__enter__()
        s = self.session
        self.machines = MachineRepository(s)
        self.clusters = ClusterRepository(s)
        self.memberships = MembershipRepository(s)
        self.configs = ConfigRepository(s)
        self.documents = DocumentRepository(s)
        self.proposals = ProposalRepository(s)
        self.jobs = JobRepository(s)
        self.sync_cursors = SyncCursorRepository(s)
        return self

    def savepoint(self) -> AbstractContextManager[None]:
        """An all-or-nothing part of this unit: what it wrote is undone if it raises."""
        return savepoint(self.session)


def unit_of_work_factory(db: Database, signer: Signer | None = None) -> Callable[[], InventoryUnitOfWork]:
    """What bootstrap hands the handlers: a new unit of work on ``db`` per call, signing
    the executor jobs it sends with ``signer``."""
    return lambda: InventoryUnitOfWork(db, signer)
