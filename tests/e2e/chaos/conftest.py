"""The chaos suite's platform: ``autorke up --replicas 2 --nats-cluster 3`` with the lab,
on a PostgreSQL server of the suite's own (:mod:`fixtures.postgres_server`), so the suite
can restart it without touching the machine's. The seed comes from
``AUTORKE_CHAOS_SEED`` (``random`` draws one; default 1); it is printed first."""
from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from fixtures.platform import Platform, up_platform
from fixtures.postgres_server import PostgresServer, postgres_binaries

from ..ports import free_offset

REPLICAS = 2
NATS_NODES = 3
#: rke1-lab and rke2-lab take six machines each; the chaos run claims 16 more (8 to init, 8 to add)
MACHINES = 30


@pytest.fixture(scope="package")
def seed() -> int:
    # Seed 1 unless told: seed 297420 still leaves a node.remove's machine "draining" (its
    # later lifecycle marks give up before the killed inventory replica's "draining" is
    # redelivered; an open bug, issue 17's note). AUTORKE_CHAOS_SEED=random draws one.
    given = os.environ.get("AUTORKE_CHAOS_SEED") or "1"
    value = random.randrange(1, 1_000_000) if given == "random" else int(given)
    print(f"\nchaos seed={value} (replay: AUTORKE_CHAOS_SEED={value})", flush=True)
    return value


@pytest.fixture(scope="package")
def postgres() -> Iterator[PostgresServer]:
    if postgres_binaries() is None:
        pytest.skip("the chaos suite restarts a PostgreSQL server of its own: no server binaries here")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="package")
def platform(tmp_path_factory, postgres: PostgresServer) -> Iterator[Platform]:
    with up_platform("chaos", tmp_path_factory.mktemp("chaos"), MACHINES, "--nats-cluster", str(NATS_NODES),
                     free_offset=lambda: free_offset(REPLICAS, NATS_NODES), replicas=REPLICAS,
                     database=["--database-url", postgres.url]) as running:
        yield running


@pytest.fixture(scope="package")
def schemas(postgres: PostgresServer):
    """service -> an engine on its schema (``autorke up`` without a prefix: the names)."""
    engines = {name: create_engine(postgres.url, pool_pre_ping=True,
                                   connect_args={"options": f"-csearch_path={name}"})
               for name in ("console", "inventory", "orchestrator", "executor", "netcfg")}
    yield engines
    for engine in engines.values():
        engine.dispose()
