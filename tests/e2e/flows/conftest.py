"""The real services on one lab, for the orchestrator's end-to-end flows (issue 7).

``platform`` (one for the whole folder: a lab start builds two clusters): a private lab (its own address range, free
ports) with machines, the CMDB, a Kubernetes API per lab cluster and the clusters component,
which builds ``rke1-lab`` (m001-m006, by the ``rke`` stand-in) and ``rke2-lab``
(m007-m012, joined node by node) and leaves the rest free; then the inventory and executor
apps in-process (their lifespans: migrations, bus, relay, consumers) and the orchestrator
as a real child process (``python -m autorke_orchestrator``, talked to over HTTP, so a
test can SIGKILL it and start it again on the same database), on a NATS server of the
flows' own and databases of their own (PostgreSQL schemas when AUTORKE_TEST_DATABASE_URL
is set, SQLite files otherwise), bearer tokens from the lab identity provider.

Tests take free machines with ``platform.claim(n)``: each machine goes to one test only,
so no test finds a machine another one joined.

Nothing is written into another service's tables: the inventory syncs the lab CMDB, both
lab clusters are registered through its REST API as an admin would (the RKE2 join token
and the kubeconfig sealed at rest), ``rke2-lab`` imported through the Kubernetes API and
``rke1-lab`` from its cluster.yml and cluster.rkestate; the orchestrator learns all of it
from the inventory's events. Every process started here is stopped here, by its owner.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from kubernetes import client, config
from sqlalchemy import select
from sqlalchemy.orm import Session

from autorke_common.db import make_engine
from autorke_common.natsserver import EmbeddedNats
from autorke_executor.bootstrap import ExecutorSettings
from autorke_executor.bootstrap import create_app as executor_app
from autorke_inventory.bootstrap import InventorySettings
from autorke_inventory.bootstrap import create_app as inventory_app
from autorke_lab.clusters import ClustersComponent
from autorke_lab.cmdb.component import CmdbComponent
from autorke_lab.kube.component import KubeComponent
from autorke_lab.machines.component import MachinesComponent
from autorke_lab.provisioners.rke2 import install_command
from autorke_orchestrator.adapters.orm import ClusterViewRow, MachineViewRow
from fixtures.infra import drop_schemas, postgres_url
from fixtures.lab import RunningLab, start_lab
from fixtures.secret_keys import secret_key
from fixtures.signing import service_settings
from fixtures.waiting import ready, wait  # noqa: F401 - the flows' tests import them from here

from .service_process import ServiceProcess

SECRET_KEY = secret_key("e2e-flows")
MACHINES = 30  # rke1-lab 6, rke2-lab 6, 18 free (m013-m030)
#: free machines kept out of ``claim``: the refusal tests use them and expect them free
RESERVED = 2
OPTIONS = {"kube.base_port": "0", "kube.workloads": "false", "clusters.heartbeat_seconds": "1"}


@dataclass
class Platform:
    lab: RunningLab
    inventory: TestClient
    executor: TestClient
    orchestrator: httpx.Client
    orchestrator_process: ServiceProcess
    orchestrator_db: tuple[str, str]  # (URL, schema)
    identity: Any
    clusters: dict[str, dict]
    claimed: set[str] = field(default_factory=set)

    # -- REST, as a person with a role ------------------------------------------------
    def call(self, service: httpx.Client, method: str, path: str, user: str = "operator", **kw: Any) -> httpx.Response:
        return service.request(method, path, headers=self.identity.headers(user), **kw)

    def change(self, user: str = "operator", **body: Any) -> httpx.Response:
        return self.call(self.orchestrator, "POST", "/api/v1/changes", user, json=body)

    def get_change(self, change_id: str) -> dict:
        r = self.call(self.orchestrator, "GET", f"/api/v1/changes/{change_id}", "viewer")
        assert r.status_code == 200, r.text
        return r.json()

    def approve(self, change_id: str, step: str = "approve", user: str = "approver") -> httpx.Response:
        return self.call(self.orchestrator, "POST", f"/api/v1/changes/{change_id}/approvals", user,
                         json={"step": step, "decision": "approve", "comment": "e2e: looks right"})

    def wait_change(self, change_id: str, *statuses: str, timeout: float = 240) -> dict:
        def done() -> dict | None:
            c = self.get_change(change_id)
            if c["status"] in statuses:
                return c
            assert c["status"] not in ("failed", "cancelled", "partially_failed") or c["status"] in statuses, \
                f"change {change_id} is {c['status']}: {c.get('waiting_for')} {c.get('history', [])[-3:]}"
            return None
        return wait(done, timeout, f"change {change_id} in {statuses}")

    # -- the lab -------------------------------------------------------------------------
    def machine_names(self) -> list[str]:
        return [m["name"] for m in self.lab.machines]

    def clear_command_logs(self) -> None:
        for name in self.machine_names():
            self.lab.machine(name).clear_command_log()

    def touched(self) -> dict[str, int]:
        """Machine -> number of SSH commands it received since the logs were cleared."""
        return {n: len(log) for n in self.machine_names() if (log := self.lab.machine(n).command_log())}

    def kube(self, cluster: str) -> client.CoreV1Api:
        api = config.new_client_from_config_dict(yaml.safe_load(Path(self.clusters[cluster]["kubeconfig"]).read_text()))
        return client.CoreV1Api(api)

    def members(self, cluster: str) -> dict[str, list[str]]:
        r = self.call(self.inventory, "GET", f"/api/v1/clusters/{cluster}/nodes", "viewer")
        assert r.status_code == 200, r.text
        return {m["hostname"]: sorted(m["roles"]) for m in r.json()["items"]}

    def node_status(self, cluster: str) -> dict[str, str]:
        """hostname -> Ready / NotReady / Unknown, as the inventory last observed it."""
        r = self.call(self.inventory, "GET", f"/api/v1/clusters/{cluster}/nodes", "viewer")
        assert r.status_code == 200, r.text
        return {m["hostname"]: (m["kubernetes"]["node"] or {}).get("status", "Unknown")
                for m in r.json()["items"]}

    def free(self) -> list[str]:
        return list(self.lab.status["components"]["clusters"]["free_machines"])

    def claim(self, n: int) -> list[str]:
        """``n`` free machines no other test has claimed (the last RESERVED stay free)."""
        left = [h for h in self.free()[:-RESERVED] if h not in self.claimed]
        assert len(left) >= n, f"only {len(left)} free machines left; raise MACHINES"
        self.claimed.update(left[:n])
        return left[:n]

    def jobs(self, change_id: str) -> list[dict]:
        """The executor's job records of one change (its REST API)."""
        r = self.call(self.executor, "GET", "/api/v1/jobs", "viewer", params={"change_id": change_id, "limit": 500})
        assert r.status_code == 200, r.text
        return r.json()["items"]




def _database(tmp: Path, name: str) -> tuple[str, str]:
    url = postgres_url()
    schema = f"e2e_{name}_{uuid.uuid4().hex[:8]}"
    return (url, schema) if url else (f"sqlite:///{tmp / f'{name}.db'}", schema)



def _register(p: Platform) -> None:
    """What an admin does once per cluster, through the inventory's API."""
    rke2, rke1 = p.clusters["rke2-lab"], p.clusters["rke1-lab"]
    hosts = sorted({".".join(m["address"].split(".")[:3]) + ".0/24" for m in p.lab.machines})
    token = Path(rke2["join_token_file"]).read_text().strip()
    r = p.call(p.inventory, "POST", "/api/v1/clusters", "admin", json={
        "name": "rke2-lab", "provider": "rke2", "api_endpoint": rke2["api_url"],
        "kubeconfig": Path(rke2["kubeconfig"]).read_text(), "join_address": rke2["server_url"],
        "join_token": token, "host_networks": hosts})
    assert r.status_code == 201, r.text
    assert token not in r.text and r.json()["has_join_token"], "the token is never shown"
    r = p.call(p.inventory, "POST", "/api/v1/clusters/rke2-lab:import", "admin", json={"source": "kubernetes"})
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    wait(lambda: p.call(p.inventory, "GET", f"/api/v1/clusters/rke2-lab/imports/{job}", "viewer")
         .json()["status"] == "done", 120, "rke2-lab imported through its API")

    # RKE1: its cluster.yml and cluster.rkestate come in as a config.import change, asked
    # for by an operator and approved by an admin (it writes the cluster's keys: H2)
    r = p.call(p.inventory, "POST", "/api/v1/clusters", "admin", json={
        "name": "rke1-lab", "provider": "rke", "api_endpoint": rke1["api_url"],
        "kubeconfig": Path(rke1["kubeconfig"]).read_text(), "host_networks": hosts})
    assert r.status_code == 201, r.text
    files = {"cluster_yml": Path(rke1["cluster_yml"]).read_text(), "rkestate": Path(rke1["rkestate"]).read_text()}

    def imported() -> httpx.Response | None:  # 404 until the orchestrator has seen the registration
        r = p.call(p.inventory, "POST", "/api/v1/clusters/rke1-lab:import", "operator", json=files)
        return None if r.status_code == 404 else r

    r = wait(imported, 60, "the orchestrator knows rke1-lab")
    assert r.status_code == 202 and r.json()["type"] == "config.import", r.text
    change = r.json()["id"]
    p.wait_change(change, "awaiting_approval", timeout=120)
    assert len(p.get_change(change)["plan"]["steps"][0]["preview"]["matched"]) == 6
    r = p.approve(change, "approve_admin", "admin")
    assert r.status_code == 200, r.text
    p.wait_change(change, "succeeded", timeout=120)


def _projected(p: Platform) -> bool:
    """The orchestrator's read model (read from its database: the process has no API for
    it) has every machine (with its host key), both clusters with their members, and
    rke1-lab's configs."""
    engine = make_engine(*p.orchestrator_db, pool_size=1)
    try:
        with Session(engine) as session:
            rows = session.execute(select(MachineViewRow)).scalars().all()
            clusters = {c.name: c for c in session.execute(select(ClusterViewRow)).scalars()}
    finally:
        engine.dispose()
    lab_names = set(p.machine_names())
    keyed = {r.hostname for r in rows if (r.ssh or {}).get("host_key")}
    members = {r.hostname for r in rows if r.cluster}
    rke1 = clusters.get("rke1-lab")
    return (lab_names <= keyed and len(members) == 12 and "rke2-lab" in clusters and rke1 is not None
            and {"cluster.yml", "cluster.rkestate"} <= set(rke1.configs_sealed or {}))


@pytest.fixture(scope="package")
def flows_nats(tmp_path_factory) -> Iterator[EmbeddedNats]:
    """A NATS server of these flows' own: the orchestrator's read model replays every
    inventory event in the stream, and a server shared with earlier suites holds thousands."""
    server = EmbeddedNats(tmp_path_factory.mktemp("flows-nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def platform(tmp_path_factory, flows_nats, identity) -> Iterator[Platform]:
    nats_server = flows_nats
    tmp = tmp_path_factory.mktemp("e2e-flows")
    lab, finalize = start_lab(tmp, machines=MACHINES, cmdb_size=MACHINES + 4, options=dict(OPTIONS),
                              components=[MachinesComponent(), CmdbComponent(), KubeComponent(),
                                          ClustersComponent()])
    clients: list[TestClient] = []
    schemas: list[str] = []
    orchestrator: ServiceProcess | None = None
    orch_client: httpx.Client | None = None
    try:
        clusters = {c["name"]: c for c in lab.status["components"]["clusters"]["clusters"]}
        assert all(c["ready"] for c in clusters.values()), clusters

        def settings(cls: type, name: str, **extra: Any) -> Any:
            url, schema = _database(tmp, name)
            schemas.append(schema)
            return cls(nats_url=nats_server.url, database_url=url, db_schema=schema, oidc_issuer=identity.issuer,
                       trace_exporter="none", secret_key=SECRET_KEY, outbox_poll_interval_s=0.05,
                       **{**service_settings(name), **extra})  # its signing key, the signers it trusts

        def start(app: Any) -> TestClient:
            c = TestClient(app)
            c.__enter__()
            clients.append(c)
            return c

        kube_dir = Path(lab.lab.state_dir) / "kube"
        # the lab's rke wrapper: it tells the stand-in where the lab's files of each cluster are
        # (the cluster.yml the inventory renders names none: options may not, H1)
        rke_binary = lab.status["components"]["clusters"]["provisioners"]["rke_binary"]
        orch_db = _database(tmp, "orchestrator")
        schemas.append(orch_db[1])
        orchestrator = ServiceProcess("autorke_orchestrator", {
            "nats_url": nats_server.url, "database_url": orch_db[0], "db_schema": orch_db[1],
            "oidc_issuer": identity.issuer, "trace_exporter": "none", "secret_key": SECRET_KEY,
            "outbox_poll_interval_s": "0.05", "resume_interval_s": "1.0", "log_format": "text",
            "data_dir": str(tmp / "orchestrator"),
            **{k: str(v) for k, v in service_settings("orchestrator").items()}}, tmp / "logs")
        executor = start(executor_app(settings(
            ExecutorSettings, "executor", ssh_key_path=lab.private_key, ssh_user=lab.ssh_user,
            rke_binary=rke_binary, rke2_install_command=install_command(kube_dir, heartbeat_s=1.0),
            job_ack_wait_s=30.0, orchestrator_url=orchestrator.base_url),  # where it fetches claims
            configure_process=False))
        inventory = start(inventory_app(settings(
            # no periodic node status: what the inventory shows of a node comes from the
            # refreshes the changes themselves ask for; config writes become changes (H1, H2)
            InventorySettings, "inventory", cmdb_url=lab.cmdb_url, sync_interval_s=0,
            node_status_interval_s=0, orchestrator_url=orchestrator.base_url), configure_process=False))
        orchestrator.start()
        orch_client = httpx.Client(base_url=orchestrator.base_url, timeout=60)
        p = Platform(lab, inventory, executor, orch_client, orchestrator, orch_db, identity, clusters)
        r = p.call(inventory, "POST", "/api/v1/machines:sync", "admin", json={"mode": "full", "wait": True})
        assert r.status_code == 200, r.text
        _register(p)
        wait(lambda: _projected(p), 180, "the orchestrator's read model built from inventory events")
        yield p
    finally:
        if orch_client is not None:
            orch_client.close()
        if orchestrator is not None:
            orchestrator.stop()
        for c in reversed(clients):
            c.__exit__(None, None, None)
        try:
            finalize()
        finally:
            drop_schemas(schemas)


@pytest.fixture
def clean_logs(platform: Platform) -> Platform:
    """The platform with every machine's command log emptied: what a test sees in a log
    was sent during the test."""
    platform.clear_command_logs()
    return platform
