"""The cluster page's nodes against a real inventory (its own database, on the test's NATS):
each member's Ready badge, cordoned, conditions not OK and kubelet version as the
inventory recorded them from a node listing (the executor's ``list_nodes`` answer, sent on
the bus as the executor sends it), and a refresh button for operators only that asks the
inventory for a new reading."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_console.bootstrap import create_app
from autorke_inventory.bootstrap import InventorySettings
from autorke_inventory.bootstrap import create_app as create_inventory
from autorke_lab.cmdb.api import cmdb_router
from autorke_lab.cmdb.inventory import Inventory
from autorke_lab.machines.addresses import free_port
from autorke_lab.servers import HttpServer
from fixtures import kubeconfigs
from fixtures.secret_keys import secret_key
from fixtures.signing import service_settings, sign

from .conftest import console_settings
from .servers import browser_sign_in, serve_app

KUBECONFIG = kubeconfigs.text(kubeconfigs.token_doc("https://127.0.0.1:1", token="never-shown"))


@pytest.fixture(scope="module")
def cmdb_url() -> Iterator[str]:
    app = FastAPI()
    app.include_router(cmdb_router(Inventory.generate(7, 20, [])))
    server = HttpServer(app, "127.0.0.1", free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def inventory(tmp_path_factory, nats_server, console_idp, cmdb_url):
    data = tmp_path_factory.mktemp("inventory")
    settings = InventorySettings(nats_url=nats_server.url, database_url=f"sqlite:///{data / 'inv.db'}",
                                 db_schema="inventory", oidc_issuer=console_idp.issuer,
                                 trace_exporter="none", secret_key=secret_key("console-cluster-nodes"),
                                 cmdb_url=cmdb_url, sync_interval_s=0, node_status_interval_s=0,
                                 outbox_poll_interval_s=0.1, **service_settings("inventory"))
    with serve_app(create_inventory(settings, configure_process=False)) as running:
        yield running


@pytest.fixture(scope="module")
def console_on_inventory(tmp_path_factory, nats_server, console_idp, console_port, inventory,
                         echo_upstream):
    """The console on the port the lab IdP's client redirects to, with the real inventory."""
    settings = console_settings(tmp_path_factory.mktemp("console-inv"), nats_server.url, console_idp, console_port,
                                inventory_url=inventory.url, upstream_url=echo_upstream.url)
    with serve_app(create_app(settings, configure_process=False), port=console_port) as running:
        yield running


def listed(name: str, ip: str, ready: str, *, cordoned: bool = False, pressure: bool = False) -> dict:
    conditions = [{"type": "MemoryPressure", "status": "True" if pressure else "False",
                   "reason": "KubeletHasInsufficientMemory" if pressure else "KubeletHasSufficientMemory"},
                  {"type": "Ready", "status": ready,
                   "reason": "KubeletReady" if ready == "True" else "NodeStatusUnknown"}]
    return {"name": name, "labels": {"node-role.kubernetes.io/worker": "true"}, "taints": [],
            "unschedulable": cordoned, "ready": ready == "True",
            "addresses": [{"type": "InternalIP", "address": ip}],
            "kubelet_version": "v1.30.4+rke2r1", "conditions": conditions}


def test_cluster_page_shows_each_nodes_ready_badge_and_operators_can_refresh(
        console_on_inventory, inventory, console_idp):
    services = inventory.app.state.inventory
    with httpx.Client(base_url=inventory.url, headers=console_idp.headers("operator"), timeout=30) as c:
        assert c.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
        ms = c.get("/api/v1/machines", params={"limit": 3}).json()["items"]
        assert c.post("/api/v1/clusters", json={"name": "page-c", "provider": "rke2",
                                                "kubeconfig": KUBECONFIG}).status_code == 201
    change = f"chg-{uuid.uuid4().hex[:8]}"
    for m in ms:
        services.commands.handle(sign(Envelope.of(msg.AssignMembership(
            change_id=change, machine=m["id"], cluster="page-c", roles=["worker"]),
            source="orchestrator", correlation_id=change, actor="alice")))
    a, b, c_ = ms
    # the executor's answer to a refresh the placements asked for (each placement asks one)
    with httpx.Client(base_url=inventory.url, headers=console_idp.headers("viewer"), timeout=30) as c:
        asked = c.get("/api/v1/clusters/page-c/nodes").json()["node_status"]
    assert asked["status"] == "pending"
    job_id = asked["job_id"]
    nodes = [listed(a["hostname"], a["ip"], "True"),
             listed(b["hostname"], b["ip"], "Unknown", cordoned=True, pressure=True)]
    services.results.handle(Envelope.of(ex.TargetFinished(
        job_id=job_id, host="kube-api", status="succeeded", duration_s=0.1,
        result={"nodes": nodes}), source="executor"))

    with browser_sign_in(console_on_inventory.url, "operator") as browser:
        page = browser.get("/ui/clusters/page-c")
        assert page.status_code == 200, page.text
        html = page.text
        row = {h: html.split(f'data-node="{h}"')[1].split("</tr>")[0]
               for h in (a["hostname"], b["hostname"], c_["hostname"])}
        assert 'data-status="Ready"' in row[a["hostname"]] and "v1.30.4+rke2r1" in row[a["hostname"]]
        assert 'data-test="cordoned"' not in row[a["hostname"]]
        assert 'data-status="NotReady"' in row[b["hostname"]] and 'data-test="cordoned"' in row[b["hostname"]]
        assert 'data-condition="MemoryPressure"' in row[b["hostname"]]
        assert "NodeStatusUnknown" in row[b["hostname"]] and 'data-test="observed"' in row[b["hostname"]]
        # listed nowhere in the API: unknown, and said why
        assert 'data-status="Unknown"' in row[c_["hostname"]]
        assert "not registered in the cluster" in row[c_["hostname"]]
        assert "never-shown" not in html  # the kubeconfig's token

        assert 'data-test="refresh-nodes"' in html
        csrf = html.split('name="csrf" value="')[1].split('"')[0]
        before = browser.get("/api/v1/clusters/page-c/nodes").json()["node_status"]["job_id"]
        r = browser.post("/ui/clusters/page-c/nodes/refresh", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/ui/clusters/page-c"
        after = browser.get("/api/v1/clusters/page-c/nodes").json()["node_status"]
        assert after["job_id"] != before and after["status"] == "pending"
        assert 'data-job-status="pending"' in browser.get("/ui/clusters/page-c").text
        assert browser.post("/ui/clusters/page-c/nodes/refresh", data={"csrf": "forged"}).status_code == 403

    with browser_sign_in(console_on_inventory.url, "viewer") as browser:
        html = browser.get("/ui/clusters/page-c").text
        assert 'data-status="Ready"' in html and 'data-test="refresh-nodes"' not in html
