"""C2 on the running platform: a command is run only when the orchestrator signed it.

Someone who holds the orchestrator's own bus credentials (the one user the bus lets publish
``autorke.cmd.executor.run`` besides the inventory) still cannot make the executor touch a
machine: a command without a signature, one signed by a key the executor does not trust,
and one the orchestrator signed but that was altered afterwards (another action, another
fence) are each refused before any connection. The lab machine's command log stays empty;
the executor says why in a dead letter (read here as an ops dashboard reads the bus, with
the read-only ``dashboards`` user)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import nats

from autorke_common.bus import Bus
from autorke_common.catalogue.executor import ExecutorRun, Target
from autorke_common.envelope import Envelope
from autorke_common.natsauth import credentials_file, inbox_prefix
from autorke_common.signing import Signer
from fixtures import signing as test_keys

from .conftest import Platform, wait

DEAD_LETTERS = "autorke.events.bus.message.dead_lettered"


def _probe_of(p: Platform, host: str, job_id: str) -> Envelope:
    m = next(m for m in p.lab["machines"] if m["name"] == host)
    run = ExecutorRun(job_id=job_id, change_id=None, kind="script", action="probe",
                      targets=[Target(host=host, address=m["address"], port=m["port"], host_key=m["host_key"])],
                      fence=[host], requested_by="journey")
    return Envelope.of(run, source="orchestrator", id=f"cmd-{job_id}")


def _altered(env: Envelope, **changes: Any) -> Envelope:
    return env.model_copy(update={"data": {**env.data, **changes}})


async def _publish_and_collect(p: Platform, envelopes: list[Envelope], ids: set[str]) -> dict[str, dict]:
    """Publish with the orchestrator's credentials; answer the dead letters of ``ids``."""
    creds = p.data_dir / "nats" / "creds"
    watcher = await nats.connect(p.nats_url, nkeys_seed=str(credentials_file(creds, "dashboards")),
                                 inbox_prefix=inbox_prefix("dashboards"), allow_reconnect=False)
    seen: dict[str, dict] = {}

    async def on_letter(msg) -> None:
        letter = json.loads(msg.data)["data"]
        if letter.get("message_id") in ids:
            seen[letter["message_id"]] = letter

    await watcher.subscribe(DEAD_LETTERS, cb=on_letter)
    await watcher.flush()
    bus = Bus(p.nats_url, "orchestrator", credentials=str(credentials_file(creds, "orchestrator")))
    await bus.connect(attempts=10)
    try:
        for env in envelopes:
            await bus.publish(env)
        for _ in range(600):
            if set(seen) == ids:
                break
            await asyncio.sleep(0.1)
    finally:
        await bus.close()
        await watcher.close()
    return seen


def test_c2_commands_not_signed_by_the_orchestrator_are_refused_and_no_machine_is_touched(clean_logs: Platform):
    p = clean_logs
    host = p.claim(1)[0]
    real = Signer.from_file(p.data_dir / "keys" / "orchestrator.pem")
    intruder = test_keys.signer("intruder")  # a well-formed key the platform does not trust
    unsigned = _probe_of(p, host, "journey-c2-unsigned")
    signed_then_altered = _altered(real.sign(_probe_of(p, host, "journey-c2-altered")), action="cleanup")
    forged = [unsigned, signed_then_altered, intruder.sign(_probe_of(p, host, "journey-c2-intruder"))]
    letters = asyncio.run(_publish_and_collect(p, forged, {e.id for e in forged}))

    assert set(letters) == {e.id for e in forged}, f"dead letters seen: {sorted(letters)}"
    assert letters[unsigned.id]["error"].split(": ")[1] == "unsigned-command"
    assert letters[signed_then_altered.id]["error"].split(": ")[1] == "bad-signature"
    assert letters[forged[2].id]["error"].split(": ")[1] == "bad-signature"
    assert all(letter["consumer"] == "executor-run" for letter in letters.values())
    # nothing ran: no SSH command reached the machine, and the executor kept no job
    assert p.commands(host) == []
    for env in forged:
        assert p.call("GET", f"jobs/{env.data['job_id']}", "admin").status_code == 404


def test_c2_the_same_command_signed_by_the_orchestrator_runs(clean_logs: Platform):
    """The control: the refusal above is the signature's doing, not a command that could
    never run (the same probe, signed and unaltered, reaches the machine)."""
    p = clean_logs
    host = p.claim(1)[0]
    env = Signer.from_file(p.data_dir / "keys" / "orchestrator.pem").sign(_probe_of(p, host, "journey-c2-good"))
    creds = p.data_dir / "nats" / "creds"

    async def publish() -> None:
        bus = Bus(p.nats_url, "orchestrator", credentials=str(credentials_file(creds, "orchestrator")))
        await bus.connect(attempts=10)
        try:
            await bus.publish(env)
        finally:
            await bus.close()

    asyncio.run(publish())
    wait(lambda: p.call("GET", "jobs/journey-c2-good", "admin").status_code == 200
         and p.call("GET", "jobs/journey-c2-good", "admin").json().get("status") == "succeeded",
         120, "the signed probe finished")
    assert p.commands(host), "the signed probe reached the machine"
