"""A job redelivered after its executor was SIGKILLed mid-run is not run again on the
hosts that had finished: the executor runs as a real child process, is killed once some
targets are recorded, and a fresh executor on the same database picks the command up."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from autorke_lab.machines.addresses import free_port
from fixtures.signing import trusted

from .conftest import SECRET_KEY, commands_of, new_job, send, target, wait_finished


def test_redelivered_job_skips_hosts_that_finished(lab_factory, events, fresh_nats, database, identity,
                                                   executor_factory, tmp_path):
    lab = lab_factory(machines=12)
    names = [m["name"] for m in lab.machines]
    url, schema = database
    env = {**os.environ, "AUTORKE_NATS_URL": fresh_nats.url, "AUTORKE_DATABASE_URL": url,
           "AUTORKE_DB_SCHEMA": schema, "AUTORKE_OIDC_ISSUER": identity.issuer,
           "AUTORKE_TRACE_EXPORTER": "none", "AUTORKE_SECRET_KEY": SECRET_KEY,
           "AUTORKE_SSH_KEY_PATH": str(lab.private_key), "AUTORKE_PORT": str(free_port()),
           "AUTORKE_JOB_ACK_WAIT_S": "3", "AUTORKE_OUTBOX_POLL_INTERVAL_S": "0.1",
           "AUTORKE_COMMAND_SIGNERS": trusted()}
    with open(tmp_path / "executor.log", "wb") as log:  # the child writes to its own copy of the file
        child = subprocess.Popen([sys.executable, "-m", "autorke_executor"], env=env, cwd=tmp_path,
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        ready_by = time.monotonic() + 60
        while True:
            assert child.poll() is None and time.monotonic() < ready_by, \
                (tmp_path / "executor.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{env['AUTORKE_PORT']}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        job = new_job(kind="script", action="facts", targets=[target(lab, n) for n in names],
                      fence=names, concurrency=1)
        send(events, job)
        deadline = time.monotonic() + 60
        while len(events.of(job.job_id, "executor.target.finished")) < 3:
            assert time.monotonic() < deadline, (tmp_path / "executor.log").read_text()[-3000:]
            assert child.poll() is None, (tmp_path / "executor.log").read_text()[-3000:]
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    done_before = {e["data"]["host"] for e in events.of(job.job_id, "executor.target.finished")}
    assert 3 <= len(done_before) < len(names)

    executor_factory(lab, job_ack_wait_s=3)  # a new executor, same database and stream
    finished = wait_finished(events, job.job_id, timeout=60)[0]["data"]
    assert finished["status"] == "succeeded"
    assert sorted(t["host"] for t in finished["targets"]) == sorted(names)
    for n in done_before:  # finished before the kill: exactly one run, never again
        assert len(commands_of(lab, n)) == 1, n
    for n in names:
        assert len(commands_of(lab, n)) >= 1
    started = events.of(job.job_id, "executor.job.started")
    assert [s["data"]["redelivery"] for s in started] == [False, True]
