"""The orchestrator's unit of work: the common one (one transaction, the outbox, the
processed-message inbox) with the repositories the service layer works through, each over
the unit's session: ``changes``, ``jobs``, ``locks`` and ``directory`` (the inventory's
read model) — and the service's signer, which every command written to the outbox is
signed with (``dispatch``). Enter it once per transaction (``with uow:``); it may be
entered again after."""
from __future__ import annotations

from typing import Self

from autorke_common.outbox import Database, UnitOfWork
from autorke_common.signing import Signer
from autorke_orchestrator.adapters.directory import Directory
from autorke_orchestrator.adapters.locks import Locks
from autorke_orchestrator.adapters.repository import ChangeRepository, JobRepository


class OrchestratorUnitOfWork(UnitOfWork):
    changes: ChangeRepository
    jobs: JobRepository
    locks: Locks
    directory: Directory

    def __init__(self, db: Database, signer: Signer) -> None:
        super().__init__(db)
        self.signer = signer

    def __enter__(self) -> Self:
        super().__enter__()
        self.changes = ChangeRepository(self.session)
        self.jobs = JobRepository(self.session)
        self.locks = Locks(self.session)
        self.directory = Directory(self.session)
        return self
