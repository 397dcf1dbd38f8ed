"""The route dependency that hands a request a fresh (not yet entered) executor unit of
work over the service's database; the view it is given to opens it."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from autorke_common.rest import DatabaseDep
from autorke_executor.adapters.unit_of_work import ExecutorUnitOfWork


def _unit_of_work(db: DatabaseDep) -> ExecutorUnitOfWork:
    return ExecutorUnitOfWork(db)


ExecutorUow = Annotated[ExecutorUnitOfWork, Depends(_unit_of_work)]
