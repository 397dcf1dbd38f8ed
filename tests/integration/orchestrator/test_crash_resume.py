"""The orchestrator killed (SIGKILL) in the middle of a join resumes after a restart and
finishes, with each host joined once: the join job id is sent once, and results that
arrived while it was down are taken when it comes back."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from fixtures.signing import service_env

from .conftest import Orchestrator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(env: dict[str, str], log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "autorke_orchestrator"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)


def wait_ready(url: str, proc: subprocess.Popen) -> None:
    # Generous: a cold start (imports, migrations, bus) on a shared 2-core machine under load.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, "orchestrator exited"
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("orchestrator not ready")


def test_killed_mid_join_resumes_and_joins_each_host_once(orch: Orchestrator, database, identity, tmp_path):
    nats_url = orch.settings.nats_url
    o = orch
    targets = [f"{o.tag}f001", f"{o.tag}f002", f"{o.tag}f003"]
    r = o.create(type="node.add", cluster=o.rke2, targets=targets, params={"role": "worker"})
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    assert o.approve(cid).status_code == 200
    o.driver.finish(o.driver.wait_run(cid, "init"))
    o.driver.wait_run(cid, "join")
    o.client.__exit__(None, None, None)  # the in-process instance stops; a real process takes over

    url, schema = database
    port = free_port()
    env = {**os.environ, "AUTORKE_NATS_URL": nats_url, "AUTORKE_DATABASE_URL": url, "AUTORKE_DB_SCHEMA": schema,
           "AUTORKE_OIDC_ISSUER": identity.issuer, "AUTORKE_TRACE_EXPORTER": "none", "AUTORKE_PORT": str(port),
           "AUTORKE_OUTBOX_POLL_INTERVAL_S": "0.05", "AUTORKE_RESUME_INTERVAL_S": "1",
           **service_env("orchestrator")}
    base = f"http://127.0.0.1:{port}"
    proc = start(env, tmp_path / "orch1.log")
    try:
        wait_ready(base, proc)
        proc.send_signal(signal.SIGKILL)  # killed while the join is out
        proc.wait(10)
        join = o.driver.wait_run(cid, "join")
        o.driver.finish(join)  # the executor reports while the orchestrator is dead
        proc = start(env, tmp_path / "orch2.log")
        wait_ready(base, proc)
        o.driver.finish(o.driver.wait_run(cid, "wait_ready"))
        labels = o.driver.wait_run(cid, "label")
        o.driver.finish(labels)
        from .test_node_add import answer_memberships
        answer_memberships(o, cid, o.rke2, 3)
        headers = identity.headers("viewer")

        def succeeded() -> bool:
            try:
                return httpx.get(f"{base}/api/v1/changes/{cid}", headers=headers, timeout=10).json()["status"] \
                    == "succeeded"
            except httpx.HTTPError:
                return False  # a slow answer on a loaded machine: ask again
        o.driver.wait(succeeded, 90, "change succeeded after restart")
        joins = [r for r in o.driver.runs(cid) if r.action == "join"]
        assert len(joins) == 1 and sorted(t.host for t in joins[0].targets) == sorted(targets)
        assert len({r.job_id for r in o.driver.runs(cid)}) == len(o.driver.runs(cid))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
