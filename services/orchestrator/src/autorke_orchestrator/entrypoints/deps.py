"""The route dependency that hands a request its own unit of work on the service's
database (a handler enters it, once per attempt), with the service's command signer."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from autorke_common.rest import DatabaseDep
from autorke_orchestrator.adapters.unit_of_work import OrchestratorUnitOfWork


def _unit_of_work(db: DatabaseDep, request: Request) -> OrchestratorUnitOfWork:
    return OrchestratorUnitOfWork(db, request.app.state.signer)


UnitOfWorkDep = Annotated[OrchestratorUnitOfWork, Depends(_unit_of_work)]
