"""Fixtures for the inventory's integration tests: a private lab CMDB (the lab's own
CMDB app and data, on a free port, small), the inventory service in-process on real NATS
and a private database, the executor on the same bus (for the jobs inventory asks of it),
and a recorder of every event the bus carries."""
from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_executor.bootstrap import ExecutorSettings
from autorke_executor.bootstrap import create_app as create_executor
from autorke_inventory.bootstrap import InventorySettings, create_app
from autorke_lab.cmdb.api import cmdb_router
from autorke_lab.cmdb.inventory import Inventory
from autorke_lab.cmdb.netbox import netbox_router
from autorke_lab.machines.addresses import free_port
from autorke_lab.servers import HttpServer
from fixtures.recorder import BusRecorder
from fixtures.secret_keys import secret_key
from fixtures.signing import service_settings, sign

SECRET_KEY = secret_key("inventory-tests")


@dataclass
class LabCmdb:
    inventory: Inventory
    url: str


def start_cmdb(records: int, running: list[dict] | None = None) -> tuple[LabCmdb, HttpServer]:
    inventory = Inventory.generate(7, records, running or [])
    app = FastAPI()
    app.include_router(cmdb_router(inventory))
    app.include_router(netbox_router(inventory))
    server = HttpServer(app, "127.0.0.1", free_port())
    server.start()
    return LabCmdb(inventory, server.url), server


@pytest.fixture
def cmdb() -> Iterator[LabCmdb]:
    lab_cmdb, server = start_cmdb(300)
    try:
        yield lab_cmdb
    finally:
        server.stop()


@dataclass
class Inv:
    client: TestClient
    headers: Callable[[str], dict[str, str]]

    def get(self, path: str, user: str = "viewer", **kw):
        return self.client.get(path, headers=self.headers(user), **kw)

    def post(self, path: str, user: str = "operator", **kw):
        return self.client.post(path, headers={**self.headers(user), **kw.pop("headers", {})}, **kw)

    def patch(self, path: str, user: str = "operator", **kw):
        return self.client.patch(path, headers={**self.headers(user), **kw.pop("headers", {})}, **kw)

    def put(self, path: str, user: str = "operator", **kw):
        return self.client.put(path, headers={**self.headers(user), **kw.pop("headers", {})}, **kw)


def settings_for(nats_url: str, database: tuple[str, str], issuer: str,
                 cmdb_url: str | None, **extra) -> InventorySettings:
    url, schema = database
    return InventorySettings(nats_url=nats_url, database_url=url, db_schema=schema,
                             oidc_issuer=issuer, trace_exporter="none", secret_key=SECRET_KEY,
                             cmdb_url=cmdb_url, sync_interval_s=0, outbox_poll_interval_s=0.1,
                             **{**service_settings("inventory"), **extra})


class StandInOrchestrator:
    """Stands in for the orchestrator's ``POST /changes`` (the inventory tests run without
    it): records each change asked for and answers its view; :func:`adopt` then plays the
    change's preview and adopt commands as the real flow sends them once approved."""

    def __init__(self) -> None:
        self.asked: list[dict] = []

    def create(self, **request) -> dict:
        self.asked.append(request)
        return {"id": f"chg-{uuid.uuid4().hex[:12]}", "type": request["type"], "cluster": request["cluster"],
                "status": "running", "params": request["params"]}


def adopt(inv: Inv, change: dict, actor: str = "orchestrator") -> tuple[str, str]:
    """The change's ``preview`` and (approved) ``adopt`` commands, signed as the orchestrator
    sends them; the two answers' types."""
    ids = {"change_id": change["id"], "cluster": change["cluster"], "proposal": change["params"]["proposal"],
           "digest": change["params"]["digest"]}
    commands = inv.client.app.state.inventory.commands
    answers = []
    for command in (msg.PreviewConfig(**ids), msg.AdoptConfig(**ids)):
        env = Envelope.of(command, source="orchestrator", correlation_id=change["id"], actor=actor)
        answers.append(commands.handle(sign(env)))
    return answers[0], answers[1]


@pytest.fixture
def make_inventory(nats_url, database, identity) -> Iterator[Callable[..., Inv]]:
    clients: list[TestClient] = []

    def make(cmdb_url: str | None = None, **extra) -> Inv:
        app = create_app(settings_for(nats_url, database, identity.issuer, cmdb_url, **extra),
                         configure_process=False)
        app.state.inventory = dataclasses.replace(app.state.inventory, changes=StandInOrchestrator())
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return Inv(client, identity.headers)

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def executor(nats_url, database, identity, tmp_path) -> Iterator[TestClient]:
    """The executor on the same bus, with a database of its own (as deployed)."""
    url, schema = database
    own_url = url if url.startswith("postgresql") else f"sqlite:///{tmp_path / 'executor.db'}"
    settings = ExecutorSettings(nats_url=nats_url, database_url=own_url, db_schema=f"{schema}_ex",
                                oidc_issuer=identity.issuer, trace_exporter="none",
                                secret_key=SECRET_KEY, ssh_key_path=tmp_path / "no-ssh-key",
                                outbox_poll_interval_s=0.1, **service_settings("executor"))
    client = TestClient(create_executor(settings, configure_process=False))
    client.__enter__()
    yield client
    client.__exit__(None, None, None)
    if url.startswith("postgresql"):
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}_ex" CASCADE'))
        engine.dispose()


@pytest.fixture
def events(nats_url) -> Iterator[BusRecorder]:
    """Every message published on ``autorke.>`` while the test runs."""
    recorder = BusRecorder(nats_url)
    yield recorder
    recorder.close()


@pytest.fixture
def serve_inventory(nats_url, database, identity) -> Iterator[Callable[..., str]]:
    """The inventory app under a real uvicorn (for truly concurrent requests); returns its
    base URL. Stopped (and its port freed) after the test."""
    import time

    import uvicorn

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(cmdb_url: str | None = None) -> str:
        app = create_app(settings_for(nats_url, database, identity.issuer, cmdb_url),
                         configure_process=False)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="on"))
        server.install_signal_handlers = lambda: None
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "inventory did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in servers:
        server.should_exit = True
        thread.join(15)
