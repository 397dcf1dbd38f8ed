"""H3: a command of the orchestrator that a service gave up on (dead-lettered: refused,
or failed too often) no longer leaves its step ``running`` forever with the machines
locked. The dead-letter event (as the executor's bus publishes it, naming the command by
its envelope id) fails the step's targets with ``dead_lettered`` and the service's reason,
and the change can be retried like after any failure. Real NATS and database."""
from __future__ import annotations

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM
from autorke_common.catalogue.bus import MessageDeadLettered

from .conftest import Orchestrator
from .test_partial_failure import to_join


def _dead_letter(o: Orchestrator, message_id: str, consumer: str = "executor-run") -> None:
    o.driver.publish(MessageDeadLettered(consumer=consumer, stream=COMMANDS_STREAM, subject="autorke.cmd.executor.run",
                                         message_id=message_id, deliveries=5,
                                         error="permanent: bad-signature: the executor refused it", payload="{}"))


def test_h3_a_dead_lettered_executor_job_fails_its_step_instead_of_waiting(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f001", f"{o.tag}f002"]
    cid = to_join(o, targets)
    join = o.driver.wait_run(cid, "join")
    # an event's dead letter, and a command that is not ours, change nothing
    o.driver.publish(MessageDeadLettered(consumer="orchestrator-executor", stream=EVENTS_STREAM,
                                         subject="autorke.events.executor.job.finished",
                                         message_id=f"cmd-{join.job_id}", deliveries=20, error="x", payload="{}"))
    _dead_letter(o, "cmd-not-a-job-of-ours")
    _dead_letter(o, f"cmd-{join.job_id}")
    c = o.wait_status(cid, "failed", "partially_failed")
    step = next(s for s in c["plan"]["steps"] if s["id"] == "join")
    for host in targets:
        assert step["targets"][host]["status"] == "failed"
        assert step["targets"][host]["error_class"] == "dead_lettered"
        assert "bad-signature" in step["targets"][host]["error"]
    _dead_letter(o, f"cmd-{join.job_id}")  # the same fact again: nothing more
    r = o.client.post(f"/api/v1/changes/{cid}:retry", headers=o.headers("operator"))
    assert r.status_code == 200, r.text
    again = o.driver.wait_run(cid, "join", attempt=2)
    assert sorted(t.host for t in again.targets) == sorted(targets)
