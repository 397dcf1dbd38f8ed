"""Script jobs over real SSH to lab machines, sent as ``executor.run`` commands on a real
NATS server: facts come back parsed, results are stored per target and served by the
REST API, events carry the change id, and a job id already run is not run again."""
from __future__ import annotations

from .conftest import commands_of, new_job, send, target, wait_finished


def test_facts_job_returns_facts_and_events(lab, events, executor_factory, auth_headers):
    client = executor_factory(lab)
    names = ["m001", "m002", "m003"]
    for n in names:
        lab.reset(n)
    job = new_job(kind="script", action="facts", targets=[target(lab, n) for n in names], fence=names)
    env = send(events, job)

    finished = wait_finished(events, job.job_id)[0]
    assert finished["data"]["status"] == "succeeded"
    assert finished["correlation_id"] == job.change_id and finished["causation_id"] == env.id
    per_target = {e["data"]["host"]: e["data"] for e in events.of(job.job_id, "executor.target.finished")}
    assert set(per_target) == set(names)
    for n in names:
        facts = per_target[n]["result"]["facts"]
        assert facts["hostname"] == n
        assert facts["hardware"]["cpus"] == lab.machine(n).facts.cpu_cores
        assert len(facts["hardware"]["gpus"]) == lab.machine(n).facts.gpu_count
        assert facts["software"]["container_runtime"] == "docker"
        assert facts["kubernetes"]["paths"] == []
        # one connection, one command; parameters were quoted, the script came on stdin
        cmds = commands_of(lab, n)
        assert len(cmds) == 1 and cmds[0].endswith("bash -s --") and f"AUTORKE_JOB_ID={job.job_id}" in cmds[0]
    assert next(e["type"] for e in events.of(job.job_id)) == "executor.job.started"

    body = client.get(f"/api/v1/jobs/{job.job_id}", headers=auth_headers("viewer")).json()
    assert body["status"] == "succeeded" and body["change_id"] == job.change_id
    assert {t["host"]: t["result"]["facts"]["hostname"] for t in body["targets"]} == {n: n for n in names}
    listed = client.get("/api/v1/jobs", params={"change_id": job.change_id},
                        headers=auth_headers("viewer")).json()
    assert [j["id"] for j in listed["items"]] == [job.job_id]
    assert listed["items"][0]["targets_by_status"] == {"succeeded": 3}

    # The same job id again (a new envelope): stored result, nothing runs.
    send(events, job)
    replay = wait_finished(events, job.job_id, count=2)[1]
    assert replay["data"]["replayed"] is True and replay["data"]["status"] == "succeeded"
    assert all(len(commands_of(lab, n)) == 1 for n in names)


def test_failing_script_reports_exit_code_and_stderr(lab, events, executor_factory):
    executor_factory(lab)
    lab.reset("m004")
    job = new_job(kind="script", action="init", params={"profile": "no-such-profile"},
                  targets=[target(lab, "m004")], fence=["m004"])
    send(events, job)
    finished = wait_finished(events, job.job_id)[0]["data"]
    assert finished["status"] == "failed"
    t = finished["targets"][0]
    assert (t["error_class"], t["exit_code"]) == ("failed", 2)
    assert "unknown profile: no-such-profile" in t["error"]
    # the profile reached the script as one quoted argument
    assert commands_of(lab, "m004")[-1].endswith("bash -s -- no-such-profile")
    lab.reset("m004")


def test_rest_requires_a_token_and_rejects_bad_input(lab, executor_factory, auth_headers):
    client = executor_factory(lab)
    assert client.get("/api/v1/jobs").status_code == 401
    r = client.get("/api/v1/jobs/nope", headers=auth_headers("viewer"))
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    r = client.get("/api/v1/jobs", params={"status": "weird"}, headers=auth_headers("viewer"))
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-request")
    r = client.get("/api/v1/jobs", params={"cursor": "!!"}, headers=auth_headers("viewer"))
    assert r.status_code == 400 and r.json()["type"].endswith("/invalid-cursor")
