"""Each service's migrations build exactly the tables its models describe (columns, types,
indexes): a model change without its migration, or a migration without its model, fails
here instead of on an operator's first upgrade. On the suite's database (PostgreSQL in CI)."""
from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from autorke_common.db import make_engine, migrate

SERVICES = ("console", "executor", "inventory", "netcfg", "orchestrator")


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_build_what_the_models_say(service, database):
    url, schema = database
    metadata = importlib.import_module(f"autorke_{service}.adapters.orm").metadata
    engine = make_engine(url, schema)
    try:
        migrate(engine, f"autorke_{service}:migrations", metadata)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    assert diff == [], f"{service}: the models and the migrations differ: {diff}"
