"""H3: a change never stays ``running`` forever with its machines locked.

* Every order has a deadline (its job's timeout for each wave of targets, plus the grace):
  a job still unanswered past it fails the targets its step waits for as ``timeout``; the
  change can be retried like after any failure, and the late answer of the timed-out
  attempt changes nothing.
* An admin can force-cancel a stuck change: it closes at once (no compensation), its
  locks are released, the targets of its running step are left ``unknown`` and named in
  the history with the admin's reason; nobody else may, and a reason is required.

Real NATS and database; the elapsed time of a job is its row's ``sent_at`` moved back."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from autorke_orchestrator.adapters.orm import JobRow
from autorke_orchestrator.service_layer.deadlines import expire_overdue

from .conftest import Orchestrator
from .test_partial_failure import to_join


def _age(o: Orchestrator, job_id: str, seconds: float) -> None:
    with o.db().unit_of_work() as uow:
        row = uow.session.get(JobRow, job_id)
        uow.session.execute(update(JobRow).where(JobRow.job_id == job_id)
                            .values(sent_at=row.sent_at - timedelta(seconds=seconds)))
        uow.commit()


def _uow(o: Orchestrator):
    from autorke_orchestrator.adapters.unit_of_work import OrchestratorUnitOfWork
    return OrchestratorUnitOfWork(o.db(), o.app.state.signer)


def test_h3_a_job_past_its_deadline_fails_its_step_as_timeout_and_can_be_retried(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f001", f"{o.tag}f002"]
    cid = to_join(o, targets)
    join = o.driver.wait_run(cid, "join")
    with o.db().unit_of_work() as uow:
        budget = uow.session.get(JobRow, join.job_id).budget_s
    assert budget == join.command_timeout_s, "one wave of two targets: the job's command timeout"
    _age(o, join.job_id, budget - 5)  # inside its deadline (with no grace): nothing happens
    assert expire_overdue(_uow(o), grace_s=0) == 0
    assert o.get(cid)["status"] == "running"
    _age(o, join.job_id, 10)          # now past it
    assert expire_overdue(_uow(o), grace_s=0) >= 1
    c = o.wait_status(cid, "failed", "partially_failed")
    step = next(s for s in c["plan"]["steps"] if s["id"] == "join")
    assert {step["targets"][h]["error_class"] for h in targets} == {"timeout"}
    assert expire_overdue(_uow(o), grace_s=0) == 0, "a job is looked at once after its deadline"
    o.driver.finish(join)  # the late answer of the timed-out attempt: stale
    r = o.client.post(f"/api/v1/changes/{cid}:retry", headers=o.headers("operator"))
    assert r.status_code == 200, r.text
    again = o.driver.wait_run(cid, "join", attempt=2)
    assert sorted(t.host for t in again.targets) == sorted(targets)


def test_h3_an_admin_force_cancels_a_stuck_change_and_its_locks_go(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f003", f"{o.tag}f004"]
    cid = to_join(o, targets)
    join = o.driver.wait_run(cid, "join")
    r = o.create(type="machine.init", targets=[targets[0]], params={"profile": "base"})
    assert r.status_code == 409 and r.json()["type"].endswith("/machine-locked"), r.text
    url = f"/api/v1/changes/{cid}:force-cancel"
    for user in ("operator", "approver"):
        r = o.client.post(url, json={"reason": "stuck"}, headers=o.headers(user))
        assert r.status_code == 403, r.text
    r = o.client.post(url, json={"reason": ""}, headers=o.headers("admin"))
    assert r.status_code == 422 and "reason" in r.text, r.text
    assert o.get(cid)["status"] == "running", "refusals change nothing"

    r = o.client.post(url, json={"reason": "executor lost; checked by hand"}, headers=o.headers("admin"))
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["status"] == "cancelled" and not c["open"] and c["problem"]["slug"] == "force-cancelled"
    step = next(s for s in c["plan"]["steps"] if s["id"] == "join")
    assert {step["targets"][h]["status"] for h in targets} == {"unknown"}
    entry = next(h for h in c["history"] if h["action"] == "force-cancel")
    assert entry["detail"]["reason"] == "executor lost; checked by hand"
    assert sorted(entry["detail"]["unknown"]["join"]) == sorted(targets)
    r = o.create(type="machine.init", targets=[targets[0]], params={"profile": "base"})
    assert r.status_code == 201, f"the locks were released: {r.text}"
    o.driver.finish(join)  # a late answer changes nothing
    assert o.get(cid)["status"] == "cancelled"
    r = o.client.post(url, json={"reason": "again"}, headers=o.headers("admin"))
    assert r.status_code == 409, r.text
