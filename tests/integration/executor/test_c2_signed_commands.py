"""C2 against a real executor, real NATS and lab sshd machines: an ``executor.run`` that is
unsigned, signed by a key the executor does not trust, altered after signing, or signed by
the inventory for more than its read-only jobs is refused before anything happens — no
job row, no executor event, no SSH connection (the machine's command log stays empty) —
and dead-lettered with its slug. A command signed by the orchestrator still runs."""
from __future__ import annotations

import pytest

from autorke_common.envelope import Envelope
from fixtures.recorder import BusRecorder
from fixtures.signing import sign

from .conftest import commands_of, new_job, target, wait_finished


@pytest.fixture
def dead_letters(fresh_nats):
    rec = BusRecorder(fresh_nats.url, ("autorke.events.bus.>",))
    yield rec
    rec.close()


def test_c2_forged_commands_are_refused_before_any_connection(lab_factory, events, executor_factory,
                                                             dead_letters, identity):
    lab = lab_factory(machines=2)
    client = executor_factory(lab)

    def cleanup(name: str):
        return new_job(kind="script", action="cleanup", targets=[target(lab, name)], fence=[name])

    def altered(job) -> Envelope:  # signed as the orchestrator, then its fence widened
        env = sign(Envelope.of(job, source="tests", correlation_id=job.change_id))
        return env.model_copy(update={"data": {**env.data, "fence": ["m001", "m002"]}})

    forged = {
        "unsigned-command": (job := cleanup("m001"), Envelope.of(job, source="tests", correlation_id=job.change_id)),
        "bad-signature:intruder": (job := cleanup("m001"), sign(Envelope.of(job, source="tests"), "intruder")),
        "bad-signature:altered": (job := cleanup("m001"), altered(job)),
        "bad-signature:scope": (job := cleanup("m001"), sign(Envelope.of(job, source="tests"), "inventory")),
    }
    for _, env in forged.values():
        events.publish(env)

    def refused() -> dict[str, dict]:
        return {m["data"]["message_id"]: m["data"] for m in dead_letters.of("bus.message.dead_lettered")}

    got = dead_letters.wait_for(lambda _: len(refused()) >= len(forged), timeout=60)
    assert got
    letters = refused()
    for case, (job, env) in forged.items():
        slug = case.split(":")[0]
        assert letters[env.id]["error"].startswith(f"permanent: {slug}: "), (case, letters[env.id]["error"])
        assert letters[env.id]["deliveries"] == 1  # refused once, never retried
        assert events.of(job.job_id) == []  # not even executor.job.started
        r = client.get(f"/api/v1/jobs/{job.job_id}", headers=identity.headers("viewer"))
        assert r.status_code == 404, r.text  # no job row
    assert "gAAAA" not in str([m["error"] for m in letters.values()])

    good = new_job(kind="script", action="facts", targets=[target(lab, "m002")], fence=["m002"])
    events.publish(sign(Envelope.of(good, source="tests", correlation_id=good.change_id)))
    assert wait_finished(events, good.job_id)[0]["data"]["status"] == "succeeded"
    assert commands_of(lab, "m001") == []  # no forged command ever reached it
    assert commands_of(lab, "m002")
