"""The orchestrator running in-process (TestClient runs its lifespan: migrations, bus,
relay, consumers) on a real NATS server and a real database, with a :class:`BusDriver`
playing the executor and the inventory.

The read model is built the real way, from inventory events published on the bus,
SSH connection data (address, port, host key) included: ``inventory.machine.added``
carries it as its ``ssh`` (the catalogue's ``SshAccess``). Only the Kubernetes components
a facts probe found are written straight into the orchestrator's ``machines`` table (no
event carries them)."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from autorke_common.catalogue.inventory import ClusterRegistered, MachineAdded, MembershipChanged, SshAccess
from autorke_orchestrator.adapters.orm import ClusterViewRow, MachineViewRow
from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app
from fixtures.signing import service_settings

from .driver import BusDriver


@dataclass
class Orchestrator:
    client: TestClient
    driver: BusDriver
    headers: object
    app: object
    rke2: str
    rke1: str
    other: str

    def create(self, user: str = "operator", **body) -> object:
        return self.client.post("/api/v1/changes", json=body, headers=self.headers(user))

    def get(self, change_id: str) -> dict:
        r = self.client.get(f"/api/v1/changes/{change_id}", headers=self.headers("viewer"))
        assert r.status_code == 200, r.text
        return r.json()

    def wait_status(self, change_id: str, *statuses: str, timeout: float = 60) -> dict:
        return self.driver.wait(lambda: (c := self.get(change_id))["status"] in statuses and c,
                                timeout, f"{change_id} in {statuses}")

    def approve(self, change_id: str, step: str = "approve", user: str = "approver", decision: str = "approve"):
        return self.client.post(f"/api/v1/changes/{change_id}/approvals", headers=self.headers(user),
                                json={"step": step, "decision": decision, "comment": "looks right"})

    def db(self):
        return self.app.state.runtime.db


def machine_names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(1, n + 1)]


def ssh_data(hostname: str, ip: str) -> SshAccess:
    return SshAccess(address=ip, port=22, user="root", host_key=f"ssh-ed25519 AAAAkey{hostname}")


def seed(driver: BusDriver, db, tag: str, clusters: dict[str, str], members: dict[str, str],
         free: list[str], k8s: dict[str, list[str]] | None = None) -> None:
    for name, provider in clusters.items():
        join = {"join_address": f"https://{name}.lab:9345", "join_token_sealed": "sealed-token"} \
            if provider == "rke2" else {}
        driver.publish(ClusterRegistered(name=name, provider=provider, api_endpoint=f"https://{name}.lab:6443",
                                         kubeconfig_sealed="sealed-kubeconfig", host_networks=["10.0.0.0/16"],
                                         pod_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16", bgp_as=None,
                                         **join))
    hosts = list(members) + free
    for i, h in enumerate(hosts):
        ip = f"127.9.{i // 250}.{i % 250 + 1}"
        driver.publish(MachineAdded(machine=f"id-{h}", hostname=h, ip=ip, state="available", ssh=ssh_data(h, ip)))
    for h, cluster in members.items():
        roles = ["etcd", "controlplane"] if h.endswith("001") else ["worker"]
        driver.publish(MembershipChanged(action="assigned", machine=f"id-{h}", hostname=h, cluster=cluster,
                                         roles=roles, labels={}, taints=[]))

    def projected() -> bool:
        with db.unit_of_work() as uow:
            rows = uow.session.execute(select(MachineViewRow)).scalars().all()
            n_clusters = len(uow.session.execute(select(ClusterViewRow)).scalars().all())
            return len(rows) == len(hosts) and n_clusters == len(clusters) and \
                sum(1 for r in rows if r.cluster) == len(members)
    driver.wait(projected, what="read model projected from inventory events")
    with db.unit_of_work() as uow:
        for r in uow.session.execute(select(MachineViewRow)).scalars():
            if k8s and r.hostname in k8s:
                r.k8s_components = k8s[r.hostname]
        uow.commit()


@pytest.fixture
def orch(fresh_nats, database, identity) -> Iterator[Orchestrator]:
    # A NATS server of the test's own: the read model replays every inventory event in the
    # stream, so a server shared with earlier suites would first replay their thousands.
    nats_url = fresh_nats.url
    url, schema = database
    tag = uuid.uuid4().hex[:5]
    settings = OrchestratorSettings(nats_url=nats_url, database_url=url, db_schema=schema,
                                    oidc_issuer=identity.issuer, trace_exporter="none",
                                    outbox_poll_interval_s=0.05, resume_interval_s=1.0,
                                    **service_settings("orchestrator"))
    driver = BusDriver(nats_url)
    app = create_app(settings, configure_process=False)
    try:
        with TestClient(app) as client:
            rke2, rke1, other = f"r2-{tag}", f"r1-{tag}", f"other-{tag}"
            members = {**{h: rke2 for h in machine_names(f"{tag}a", 3)},
                       **{h: rke1 for h in machine_names(f"{tag}b", 3)},
                       **{h: other for h in machine_names(f"{tag}c", 2)}}
            seed(driver, app.state.runtime.db, tag, {rke2: "rke2", rke1: "rke", other: "rke2"}, members,
                 machine_names(f"{tag}f", 8), k8s={f"{tag}f008": ["kubelet", "/etc/kubernetes"]})
            o = Orchestrator(client, driver, identity.headers, app, rke2, rke1, other)
            o.tag, o.settings = tag, settings
            yield o
    finally:
        driver.close()
