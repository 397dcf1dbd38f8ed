"""The executor started in-process (real NATS, real database, the lab's real sshd
machines), plus helpers to send it jobs over the bus and watch its events."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from autorke_executor.bootstrap import ExecutorSettings, create_app
from fixtures.recorder import BusRecorder
from fixtures.secret_keys import secret_key
from fixtures.signing import sign, trusted
from fixtures.waiting import wait

SECRET_KEY = secret_key("executor-tests")


def target(lab, name: str, host_key: str | None = None) -> dict[str, Any]:
    """The target record the inventory would send for a lab machine."""
    info = lab.info(name)
    t = {"host": name, "address": info["address"], "port": info["port"],
         "host_key": host_key or info["host_key"]}
    if info.get("bastion"):
        b = lab.info(info["bastion"])
        t["bastion"] = {"host": b["name"], "address": b["address"], "port": b["port"],
                        "host_key": b["host_key"]}
    return t


def new_job(**fields: Any) -> ExecutorRun:
    fields.setdefault("job_id", f"job-{uuid.uuid4().hex[:12]}")
    fields.setdefault("change_id", f"chg-{uuid.uuid4().hex[:8]}")
    return ExecutorRun(**fields)


class EventLog(BusRecorder):
    """Every executor event published on the server (the shared recorder, on executor events)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, ("autorke.events.executor.>",))

    @property
    def events(self) -> list[dict]:
        return self.snapshot()

    def of(self, job_id: str, type_: str | None = None) -> list[dict]:  # type: ignore[override]
        return super().of(type_, job_id=job_id)


@pytest.fixture
def events(fresh_nats) -> Iterator[EventLog]:
    log = EventLog(fresh_nats.url)
    yield log
    log.close()


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(SECRET_KEY)


def executor_settings(nats_url: str, database, identity, lab, **extra: Any) -> ExecutorSettings:
    url, schema = database
    return ExecutorSettings(nats_url=nats_url, database_url=url, db_schema=schema,
                            oidc_issuer=identity.issuer, trace_exporter="none", secret_key=SECRET_KEY,
                            ssh_key_path=lab.private_key, ssh_user=lab.ssh_user,
                            outbox_poll_interval_s=0.1, **{"command_signers": trusted(), **extra})


@pytest.fixture
def executor_factory(fresh_nats, database, identity):
    clients: list[TestClient] = []

    def start(lab, **extra: Any) -> TestClient:
        app = create_app(executor_settings(fresh_nats.url, database, identity, lab, **extra),
                         configure_process=False)
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return c

    yield start
    for c in clients:
        c.__exit__(None, None, None)


def send(events: EventLog, job: ExecutorRun, signed_by: str | None = "orchestrator") -> Envelope:
    """Publish the job as the orchestrator would: signed (``signed_by=None``: unsigned)."""
    env = Envelope.of(job, source="tests", correlation_id=job.change_id, actor="tests")
    if signed_by:
        env = sign(env, signed_by)
    events.publish(env)
    return env


def wait_finished(events: EventLog, job_id: str, timeout: float = 60.0, count: int = 1) -> list[dict]:
    return wait(lambda: (done := events.of(job_id, "executor.job.finished")) and len(done) >= count and done,
                timeout, f"job {job_id} finished (its events so far: {[e['type'] for e in events.of(job_id)]})",
                interval=0.1)


def commands_of(lab, name: str) -> list[str]:
    return [r.command for r in lab.machine(name).command_log()]
