"""The route dependency that hands a request its own unit of work on the service's
database (a handler enters it, once per attempt)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from autorke_common.rest import DatabaseDep
from autorke_orchestrator.adapters.unit_of_work import OrchestratorUnitOfWork


def _unit_of_work(db: DatabaseDep) -> OrchestratorUnitOfWork:
    return OrchestratorUnitOfWork(db)


UnitOfWorkDep = Annotated[OrchestratorUnitOfWork, Depends(_unit_of_work)]
