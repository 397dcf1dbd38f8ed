"""The netcfg service as the platform runs it, for these tests: a real uvicorn server (VCalico
must reach its webhook over HTTP) on a free port, its own NATS server and database, real
bearer tokens from the lab IdP, and lab Kubernetes clusters it learns about the way it
does in production — from ``inventory.cluster.registered`` events on the bus, carrying a
kubeconfig sealed with the platform key.

A pool write through the REST API is an ``ippool.*`` change (M3): netcfg checks it and
asks the orchestrator to create it. Here the orchestrator's change API is a recorder on
netcfg's ports (:class:`ChangeRecorder`), and :meth:`Netcfg.write` then plays the
orchestrator's part on the real bus once the change is "approved": it sends netcfg the
change's ``netcfg.ippool.check`` and ``netcfg.ippool.apply`` commands and waits for
netcfg's answers, as the orchestrator does (tests/e2e/journeys run the real one)."""
from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from kubernetes import client
from nats.js.api import DeliverPolicy

from autorke_common.bus import Bus
from autorke_common.catalogue.inventory import ClusterRegistered, ClusterUpdated
from autorke_common.catalogue.netcfg import ApplyPool, CheckPool
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from autorke_lab.vcalico import VCalicoServer
from autorke_netcfg.bootstrap import NetcfgSettings, create_app
from autorke_netcfg.service_layer.ports import Ports
from fixtures.signing import service_settings, sign
from fixtures.waiting import wait

SECRET_KEY = secrets.token_urlsafe(32)
VCALICO_SECRET = secrets.token_urlsafe(24)
G, V = "crd.projectcalico.org", "v1"


class ServerThread:
    """uvicorn serving an app on a socket bound here, in a thread; stopped by the test."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("netcfg did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.sock.close()


class ChangeRecorder:
    """The orchestrator's change API as netcfg's ports see it: every change asked for."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create(self, *, type: str, cluster: str | None, params: dict[str, Any],
               targets: list[str] | None = None, authorization: str | None = None) -> dict[str, Any]:
        change = {"id": f"chg-{uuid.uuid4().hex[:12]}", "type": type, "cluster": cluster, "params": params,
                  "status": "running", "requested_by": "operator"}
        self.created.append({**change, "authorization": authorization})
        return change


class Written:
    """What a pool write ended as once its change ran: the status the old synchronous
    route answered (201 created, 200 changed, 204 deleted) and the pool as shown now; or
    netcfg's refusal (at once, or by the change's check or apply)."""

    def __init__(self, status_code: int, body: Any, text: str = "") -> None:
        self.status_code, self._body, self.text = status_code, body, text or str(body)
        self.headers = {"content-type": "application/json"}

    def json(self) -> Any:
        return self._body


@dataclass
class Netcfg:
    url: str
    nats_url: str
    http: httpx.Client
    headers: Callable[[str], dict[str, str]]
    settings: NetcfgSettings
    ports: Ports
    clusters: dict[str, Any] = field(default_factory=dict)

    subject: Callable[[str], str] = field(default=lambda user: user)   # who netcfg records a lab user as

    def call(self, method: str, path: str, user: str = "operator", **kw: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers(user), **kw)

    @property
    def changes(self) -> ChangeRecorder:
        return self.ports.changes  # type: ignore[return-value]

    def write(self, method: str, path: str, user: str = "operator", **kw: Any) -> Any:
        """A pool write through the REST API, then its change checked, approved and
        applied over the bus; refusals at once come back as the route answered them."""
        r = self.call(method, path, user, **kw)
        if r.status_code != 202:
            return r
        change = r.json()
        cluster, pool = change["cluster"], change["params"]["name"]
        operation = change["type"].rpartition(".")[2]
        check = CheckPool(command_id=f"{change['id']}:check:1|kube-api", change_id=change["id"], cluster=cluster,
                          pool=pool, requested_by="operator", operation=operation,
                          spec=change["params"].get("spec"), previous=change["params"].get("previous"))
        verdict = self.ask(check)
        if verdict.type != "netcfg.ippool.checked" or verdict.data["violations"]:
            return Written(409, verdict.data)
        apply = ApplyPool(command_id=f"{change['id']}:apply:1|kube-api", change_id=change["id"], cluster=cluster,
                          pool=pool, requested_by="operator", operation=operation,
                          before=verdict.data["before"], after=verdict.data["after"])
        done = self.ask(apply)
        if done.type != "netcfg.ippool.applied":
            return Written(409, done.data)
        if operation == "delete":
            return Written(204, None)
        shown = self.call("GET", f"/api/v1/clusters/{cluster}/ippools/{pool}")
        return Written(201 if operation == "create" else 200, shown.json(), shown.text)

    def ask(self, command: CheckPool | ApplyPool, timeout: float = 45.0) -> Envelope:
        """Send netcfg an ``ippool.*`` command, as the orchestrator does (signed with its
        key); its answer."""
        self.publish(sign(Envelope.of(command, source="orchestrator", correlation_id=command.change_id,
                                      id=command.command_id)))
        answers = ("netcfg.ippool.checked", "netcfg.ippool.applied", "netcfg.ippool.refused")
        return wait_for(lambda: next((e for e in self.events("autorke.events.netcfg.ippool.>", 0.2)
                                      if e.type in answers and e.data["command_id"] == command.command_id), None),
                        timeout)

    def publish(self, envelope: Envelope) -> None:
        async def go() -> None:
            bus = Bus(self.nats_url, "netcfg-test")
            await bus.connect()
            try:
                await bus.publish(envelope)
            finally:
                await bus.close()

        asyncio.run(go())

    def register_cluster(self, lab: Any, *, host_networks: list[str] | None = None,
                         service_cidr: str = "10.43.0.0/16", pod_cidr: str = "10.42.0.0/16",
                         bgp_as: int = 64512, event: str = "registered") -> Envelope:
        """Publish inventory's cluster event for a lab cluster and wait until netcfg has it."""
        kind = ClusterRegistered if event == "registered" else ClusterUpdated
        facts = kind(name=lab.name, provider="rke2", api_endpoint=lab.url,
                     kubeconfig_sealed=SecretBox(SECRET_KEY).seal(lab.kubeconfig_yaml),
                     host_networks=host_networks or ["10.20.0.0/16", "192.168.10.0/24"],
                     pod_cidr=pod_cidr, service_cidr=service_cidr, bgp_as=bgp_as)
        env = Envelope.of(facts, source="inventory")
        self.publish(env)
        wait_for(lambda: self.call("GET", f"/api/v1/netcfg/clusters/{lab.name}", "admin")
                 .status_code == 200)
        self.clusters[lab.name] = lab
        return env

    def events(self, subject: str = "autorke.events.netcfg.>", settle_s: float = 0.5) -> list[Envelope]:
        """Every event published so far on ``subject`` (read from the JetStream stream)."""
        async def go() -> list[Envelope]:
            import nats

            nc = await nats.connect(self.nats_url)
            out = []
            try:
                sub = await nc.jetstream().subscribe(subject, ordered_consumer=True,
                                                     deliver_policy=DeliverPolicy.ALL)
                while True:
                    try:
                        msg = await sub.next_msg(timeout=settle_s)
                    except Exception:  # noqa: BLE001 - nothing more within the settle time
                        break
                    out.append(Envelope.from_bytes(msg.data))
            finally:
                await nc.close()
            return out

        return asyncio.run(go())


def wait_for(predicate: Callable[[], Any], timeout: float = 45.0, interval: float = 0.1) -> Any:
    return wait(predicate, timeout, "condition", interval)


@pytest.fixture(scope="module")
def vcalico(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VCalicoServer]:
    server = VCalicoServer(VCALICO_SECRET, delay_s=0.3, backoff_s=0.3,
                           log_path=tmp_path_factory.mktemp("vcalico") / "vcalico.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def netcfg_factory(fresh_nats, database, identity, vcalico) -> Iterator[Callable[..., Netcfg]]:
    started: list[tuple[ServerThread, httpx.Client]] = []

    def start(**overrides: Any) -> Netcfg:
        url, schema = database
        fields = {"nats_url": fresh_nats.url, "database_url": url, "db_schema": schema,
                      "oidc_issuer": identity.issuer, "trace_exporter": "none",
                      "secret_key": SECRET_KEY, "vcalico_url": vcalico.url,
                      "vcalico_secret": VCALICO_SECRET, "vcalico_submit_attempts": 3,
                      "vcalico_submit_backoff_s": 0.1, "vcalico_submit_max_backoff_s": 0.2,
                      "vcalico_request_timeout_s": 3.0, "outbox_poll_interval_s": 0.1,
                      "callback_timeout_check_interval_s": 0.5, "drift_check_interval_s": 0.5,
                      **service_settings("netcfg")}
        fields.update(overrides)
        settings = NetcfgSettings(**fields)
        app = create_app(settings, configure_process=False)
        app.state.netcfg.changes = ChangeRecorder()
        server = ServerThread(app)
        server.start()
        http = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, http))
        vcalico.configure(mode="normal", delay_s=0.3,
                          webhook_url=f"{server.url}/api/v1/webhooks/vcalico")
        return Netcfg(server.url, fresh_nats.url, http, identity.headers, settings,
                      app.state.netcfg, subject=identity.subject)

    yield start
    for server, http in started:
        http.close()
        server.stop()


@pytest.fixture
def netcfg(netcfg_factory) -> Netcfg:
    return netcfg_factory()


def add_node(api: client.ApiClient, name: str, ip: str, rack: str | None) -> None:
    """Register a node the way a kubelet does, through the official client."""
    labels = {"kubernetes.io/hostname": name}
    if rack:
        labels["rack"] = rack
    client.CoreV1Api(api).create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        status=client.V1NodeStatus(addresses=[client.V1NodeAddress(type="InternalIP", address=ip)])))


def pools_in(api: client.ApiClient) -> list[dict]:
    """The cluster's pools, read through the official client (names and specs)."""
    items = client.CustomObjectsApi(api).list_cluster_custom_object(G, V, "ippools")["items"]
    return sorted(({"name": o["metadata"]["name"], "spec": o["spec"]} for o in items),
                  key=lambda p: p["name"])


@pytest.fixture
def cluster(lab_kube_factory, netcfg) -> Iterator[tuple[Any, client.ApiClient]]:
    """A private lab cluster with nodes w1..w4 in racks r1/r2, registered with netcfg."""
    lab = lab_kube_factory(name=f"c{uuid.uuid4().hex[:6]}", seed_workloads=False)
    api = lab.api_client()
    for i, (rack, ip) in enumerate([("r1", "10.20.1.11"), ("r1", "10.20.1.12"),
                                    ("r2", "10.20.2.11"), ("r2", "10.20.2.12")], start=1):
        add_node(api, f"w{i}", ip, rack)
    netcfg.register_cluster(lab)
    yield lab, api
    api.close()
