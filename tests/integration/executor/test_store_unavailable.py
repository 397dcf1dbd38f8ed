"""The executor's unit of work over a PostgreSQL server that is not there (as in the second
of a restart): the driver's connection error leaves the unit as ``StoreUnavailable``, the
error a run waits out (``through_db_blips``) instead of failing the delivery and running
its hosts again. A real driver and a real refused connection; no server needed."""
from __future__ import annotations

import socket

import pytest

from autorke_common.db import make_engine
from autorke_common.errors import StoreUnavailable
from autorke_common.outbox import Database
from autorke_executor.adapters.orm import outbox_tables
from autorke_executor.adapters.unit_of_work import ExecutorUnitOfWork


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_a_lost_database_connection_leaves_the_unit_of_work_as_store_unavailable():
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/autorke")
    uow = ExecutorUnitOfWork(Database(engine, outbox_tables, "executor"))
    try:
        with pytest.raises(StoreUnavailable) as raised, uow:
            uow.jobs.get("job-1")
        assert "database unavailable: OperationalError" in str(raised.value)
        assert "SELECT" not in str(raised.value), "the statement (and its values) stay out of the message"
    finally:
        engine.dispose()
