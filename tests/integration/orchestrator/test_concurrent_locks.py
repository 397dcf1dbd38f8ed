"""Two changes on the same machines, requested at the same instant through two replicas of
the orchestrator sharing one PostgreSQL schema: exactly one is created, the other is
refused with ``machine-locked`` — the lock is the database's primary key, not a check
in Python that both requests could pass. The two name the machines in opposite orders,
so a lock taken in request order would deadlock instead."""
from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from autorke_orchestrator.bootstrap import create_app
from fixtures.infra import postgres_url

from .conftest import Orchestrator

pytestmark = pytest.mark.skipif(
    postgres_url() is None,
    reason="needs PostgreSQL (set AUTORKE_TEST_DATABASE_URL): SQLite serializes every writer, so no race")


def test_concurrent_changes_on_one_machine_one_wins_one_is_machine_locked(orch: Orchestrator):
    o = orch
    replica = create_app(o.settings, configure_process=False)
    with TestClient(replica) as second:
        for round_ in range(3):
            a, b = f"{o.tag}f00{2 * round_ + 1}", f"{o.tag}f00{2 * round_ + 2}"
            gate = threading.Barrier(2)
            answers: dict[str, object] = {}

            def request(name: str, client: TestClient, targets: list[str],
                        gate: threading.Barrier = gate, answers: dict = answers) -> None:
                gate.wait()
                answers[name] = client.post("/api/v1/changes", headers=o.headers("operator"), json={
                    "type": "node.add", "cluster": o.rke2, "targets": targets, "params": {"role": "worker"}})

            threads = [threading.Thread(target=request, args=("one", o.client, [a, b])),
                       threading.Thread(target=request, args=("two", second, [b, a]))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            codes = sorted(r.status_code for r in answers.values())
            assert codes == [201, 409], [r.text for r in answers.values()]
            loser = next(r for r in answers.values() if r.status_code == 409)
            assert loser.json()["type"].endswith("/machine-locked"), loser.text
            winner = next(r for r in answers.values() if r.status_code == 201).json()["id"]
            assert winner in loser.text, "the refusal names the change that holds the machines"
