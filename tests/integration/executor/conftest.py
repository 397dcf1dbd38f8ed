"""The executor started in-process (real NATS, real database, the lab's real sshd
machines), plus helpers to send it jobs over the bus and watch its events."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from autorke_executor.bootstrap import ExecutorSettings, create_app

SECRET_KEY = "executor-tests-secret"


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


class EventLog:
    """Every executor event published on the server, collected by a core subscription."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._subscribe())
        self._loop.run_forever()

    async def _subscribe(self) -> None:
        self.nc = await nats.connect(self.url)

        async def on(msg) -> None:
            self.events.append(json.loads(msg.data))
        await self.nc.subscribe("autorke.events.executor.>", cb=on)
        await self.nc.flush()
        self._ready.set()

    def publish(self, envelope: Envelope) -> None:
        async def pub() -> None:
            js = self.nc.jetstream()
            await js.publish(envelope.subject, envelope.to_bytes(), headers={"Nats-Msg-Id": envelope.id})
        asyncio.run_coroutine_threadsafe(pub(), self._loop).result(10)

    def of(self, job_id: str, type_: str | None = None) -> list[dict]:
        return [e for e in list(self.events) if e["data"].get("job_id") == job_id
                and (type_ is None or e["type"] == type_)]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.nc.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


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
                            outbox_poll_interval_s=0.1, **extra)


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


def send(events: EventLog, job: ExecutorRun) -> Envelope:
    env = Envelope.of(job, source="tests", correlation_id=job.change_id, actor="tests")
    events.publish(env)
    return env


def wait_finished(events: EventLog, job_id: str, timeout: float = 60.0, count: int = 1) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = events.of(job_id, "executor.job.finished")
        if len(done) >= count:
            return done
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s: "
                         f"{[e['type'] for e in events.of(job_id)]}")


def commands_of(lab, name: str) -> list[str]:
    return [r.command for r in lab.machine(name).command_log()]
