"""The console's Register cluster page and Import action against a real inventory (its own
database, on the test's NATS, syncing a small lab CMDB): an admin's form post registers the
cluster through the API (kubeconfig and join token uploaded, never shown again); a field
the inventory refuses (a CIDR that is no network, a name already taken) is shown next to
that field and creates nothing; only admins get the page. Import from uploaded cluster.yml
+ cluster.rkestate becomes a ``config.import`` change asked of the orchestrator as the
operator (a stand-in here that records it; the approval and adoption are the journeys'),
and places no member before it is approved; a cluster.yml the inventory refuses is shown
next to the file field and asks for no change; import from the API server is a job the
page follows."""
from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request

from autorke_console.bootstrap import create_app
from autorke_inventory.bootstrap import InventorySettings
from autorke_inventory.bootstrap import create_app as create_inventory
from autorke_lab.cmdb.api import cmdb_router
from autorke_lab.cmdb.inventory import Inventory
from autorke_lab.machines.addresses import free_port
from autorke_lab.servers import HttpServer
from fixtures import kubeconfigs
from fixtures.secret_keys import secret_key
from fixtures.signing import service_settings

from .conftest import console_settings
from .servers import browser_sign_in, serve_app

KUBECONFIG = kubeconfigs.text(kubeconfigs.token_doc("https://127.0.0.1:1", token="kube-secret-never-shown"))
JOIN_TOKEN = "K10join-token-never-shown"


@pytest.fixture(scope="module")
def cmdb_url() -> Iterator[str]:
    app = FastAPI()
    app.include_router(cmdb_router(Inventory.generate(11, 12, [])))
    server = HttpServer(app, "127.0.0.1", free_port())
    server.start()
    yield server.url
    server.stop()


class ChangeRecorder:
    """The orchestrator's ``POST /api/v1/changes``, recording each request: the body and
    the caller's Authorization; answers the change view an orchestrator would."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, str]] = []
        self.app = FastAPI(title="orchestrator stand-in")

        @self.app.post("/api/v1/changes", status_code=201)
        async def create(request: Request) -> dict:
            body = await request.json()
            self.requests.append((body, request.headers.get("authorization", "")))
            return {"id": f"chg-{len(self.requests)}", "type": body["type"], "cluster": body["cluster"],
                    "status": "awaiting_approval", "params": body["params"]}


@pytest.fixture(scope="module")
def orchestrator() -> Iterator[ChangeRecorder]:
    recorder = ChangeRecorder()
    with serve_app(recorder.app) as running:
        recorder.url = running.url
        yield recorder


@pytest.fixture(scope="module")
def inventory(tmp_path_factory, nats_server, console_idp, cmdb_url, orchestrator):
    data = tmp_path_factory.mktemp("inventory-reg")
    settings = InventorySettings(nats_url=nats_server.url, database_url=f"sqlite:///{data / 'inv.db'}",
                                 db_schema="inventory", oidc_issuer=console_idp.issuer,
                                 trace_exporter="none", secret_key=secret_key("console-register"),
                                 cmdb_url=cmdb_url, sync_interval_s=0, node_status_interval_s=0,
                                 outbox_poll_interval_s=0.1, orchestrator_url=orchestrator.url,
                                 **service_settings("inventory"))
    with serve_app(create_inventory(settings, configure_process=False)) as running:
        yield running


@pytest.fixture(scope="module")
def console(tmp_path_factory, nats_server, console_idp, console_port, inventory, echo_upstream):
    settings = console_settings(tmp_path_factory.mktemp("console-reg"), nats_server.url, console_idp,
                                console_port, inventory_url=inventory.url, upstream_url=echo_upstream.url)
    with serve_app(create_app(settings, configure_process=False), port=console_port) as running:
        yield running


@pytest.fixture(scope="module")
def inv(inventory, console_idp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{inventory.url}/api/v1/", headers=console_idp.headers("admin"),
                      timeout=30) as client:
        yield client


def csrf_of(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def field_error(html: str, name: str) -> str:
    """The text shown next to field ``name`` ('' when none)."""
    marker = f'data-field-error="{name}">'
    return html.split(marker)[1].split("</span>")[0] if marker in html else ""


def register(browser: httpx.Client, **fields: str) -> httpx.Response:
    csrf = csrf_of(browser.get("/ui/clusters/new").text)
    kubeconfig = fields.pop("kubeconfig", "")
    data = {"csrf": csrf, "provider": "rke2", "pod_cidr": "10.42.0.0/16",
            "service_cidr": "10.43.0.0/16", **fields}
    return browser.post("/ui/clusters", data=data,
                        files={"kubeconfig": ("kubeconfig.yaml", kubeconfig.encode(), "application/yaml")})


def test_an_admin_registers_a_cluster_and_a_refused_field_is_shown_next_to_it(console, inv, console_idp):
    with browser_sign_in(console.url, "admin") as browser:
        listing = browser.get("/ui/clusters").text
        assert 'data-test="register-cluster"' in listing and 'href="/ui/clusters/new"' in listing
        page = browser.get("/ui/clusters/new")
        assert page.status_code == 200 and 'data-test="register-form"' in page.text
        r = register(browser, name="reg-east", api_endpoint="https://10.9.0.10:6443", kubeconfig=KUBECONFIG,
                     join_address="https://10.9.0.10:9345", join_token=JOIN_TOKEN,
                     host_networks="10.9.0.0/24\n10.9.1.0/24")
        assert r.status_code == 303 and r.headers["location"] == "/ui/clusters/reg-east", r.text
        shown = browser.get("/ui/clusters/reg-east").text
        assert "kube-secret-never-shown" not in shown and JOIN_TOKEN not in shown

        bad = register(browser, name="reg-bad", pod_cidr="10.42.0.0/33", join_token=JOIN_TOKEN,
                       join_address="https://10.9.0.11:9345", kubeconfig=KUBECONFIG)
        assert bad.status_code == 422, bad.text
        assert "is not a network" in field_error(bad.text, "pod_cidr")
        assert 'value="reg-bad"' in bad.text, "what was typed is kept"
        assert JOIN_TOKEN not in bad.text and "kube-secret-never-shown" not in bad.text, "secrets are not echoed"

        taken = register(browser, name="reg-east")
        assert taken.status_code == 409
        assert "already registered" in field_error(taken.text, "name")

        half = register(browser, name="reg-half", join_address="https://10.9.0.12:9345")
        assert half.status_code == 422 and field_error(half.text, "join_token")

    cluster = inv.get("clusters/reg-east").json()
    assert cluster["provider"] == "rke2" and cluster["has_kubeconfig"] and cluster["has_join_token"]
    assert cluster["join_address"] == "https://10.9.0.10:9345"
    assert cluster["host_networks"] == ["10.9.0.0/24", "10.9.1.0/24"]
    assert cluster["api_endpoint"] == "https://10.9.0.10:6443"
    assert cluster["created_by"] == console_idp.subject("admin")
    for name in ("reg-bad", "reg-half"):
        assert inv.get(f"clusters/{name}").status_code == 404, f"{name} was not created"


def test_only_admins_get_the_register_page(console, inv):
    with browser_sign_in(console.url, "operator") as browser:
        assert 'data-test="register-cluster"' not in browser.get("/ui/clusters").text
        assert browser.get("/ui/clusters/new").status_code == 403
        csrf = csrf_of(browser.get("/ui/clusters").text)
        r = browser.post("/ui/clusters", data={"csrf": csrf, "name": "reg-op", "provider": "rke2"})
        assert r.status_code == 403
    assert inv.get("clusters/reg-op").status_code == 404


def _cluster_yml(machines: list[dict]) -> str:
    roles = [["controlplane", "etcd"], ["worker"], ["worker"]]
    return yaml.safe_dump({"cluster_name": "reg-rke", "nodes": [
        {"address": m["network"]["ip"], "port": "22", "user": "root", "role": r,
         "hostname_override": m["hostname"]} for m, r in zip(machines, roles, strict=False)]})


def test_an_operator_imports_from_uploaded_files_and_from_the_api_server(console, inv, orchestrator):
    assert inv.post("./machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    machines = inv.get("machines", params={"limit": 3}).json()["items"]
    assert inv.post("clusters", json={"name": "reg-rke", "provider": "rke"}).status_code == 201
    assert inv.post("clusters", json={"name": "reg-api", "provider": "rke2",
                                      "kubeconfig": KUBECONFIG}).status_code == 201
    rkestate = json.dumps({"currentState": {}, "desiredState": {}})
    with browser_sign_in(console.url, "operator") as browser:
        page = browser.get("/ui/clusters/reg-rke").text
        assert 'data-test="import-form"' in page
        csrf = csrf_of(page)

        def post_files(cluster_yml: str) -> httpx.Response:
            return browser.post("/ui/clusters/reg-rke/import", data={"csrf": csrf, "source": "files"},
                                files={"cluster_yml": ("cluster.yml", cluster_yml.encode(), "text/yaml"),
                                       "rkestate": ("cluster.rkestate", rkestate.encode(), "application/json")})

        refused = post_files("nodes: []\n")
        assert refused.status_code == 422
        assert "has no nodes" in field_error(refused.text, "cluster_yml")
        assert inv.get("clusters/reg-rke").json()["members"] == 0, "a refused import changes nothing"
        assert orchestrator.requests == [], "a refused import asks for no change"

        done = post_files(_cluster_yml(machines))
        assert done.status_code == 202, done.text
        assert 'href="/ui/changes/chg-1"' in done.text, done.text
        [(body, authorization)] = orchestrator.requests
        assert body["type"] == "config.import" and body["cluster"] == "reg-rke"
        assert body["params"].get("proposal"), body
        assert authorization.startswith("Bearer "), "the change is asked for as the operator"
        assert inv.get("clusters/reg-rke").json()["members"] == 0, "nothing is current before approval"

        r = browser.post("/ui/clusters/reg-api/import", data={"csrf": csrf, "source": "kubernetes"})
        assert r.status_code == 303 and "import_job=" in r.headers["location"], r.text
        job = browser.get(r.headers["location"]).text
        assert 'data-test="import-job"' in job and 'data-status="pending"' in job
    with browser_sign_in(console.url, "viewer") as browser:
        assert 'data-test="import-form"' not in browser.get("/ui/clusters/reg-rke").text


def test_an_operator_edits_a_node_profile_as_yaml_sees_the_diff_and_a_refused_field(console, inv, console_idp):
    """The profiles page of a cluster (issue 18): the built-in default listed, saved as a new
    version from YAML, the diff of two versions; a setting the inventory refuses is shown by
    the editor with its field, and stores nothing."""
    with browser_sign_in(console.url, "admin") as browser:
        r = register(browser, name="reg-prof", api_endpoint="https://10.9.2.10:6443", kubeconfig=KUBECONFIG,
                     join_address="https://10.9.2.10:9345", join_token=JOIN_TOKEN, host_networks="10.9.2.0/24")
        assert r.status_code == 303, r.text
    with browser_sign_in(console.url, "operator") as browser:
        page = browser.get("/ui/clusters/reg-prof/profiles")
        assert page.status_code == 200 and 'data-profile="default"' in page.text and "(built in)" in page.text
        editor = browser.get("/ui/clusters/reg-prof/profiles", params={"edit": "default"}).text
        assert 'data-test="profile-editor"' in editor and 'name="expected_version" value="0"' in editor
        spec = "labels:\n  example.com/team: ml\nnetwork:\n  enabled: true\n  route_reflectors: 1\n"
        saved = browser.post("/ui/clusters/reg-prof/profiles", data={
            "csrf": csrf_of(editor), "name": "default", "spec": spec, "expected_version": "0", "comment": "ml"})
        assert saved.status_code == 303, saved.text
        assert inv.get("clusters/reg-prof/node-profiles/default").json()["version"] == 1
        diff = browser.get("/ui/clusters/reg-prof/profiles", params={"diff": "default", "from": 0, "to": 1}).text
        assert 'data-test="profile-diff"' in diff and "+  example.com/team: ml" in diff, diff

        bad = browser.post("/ui/clusters/reg-prof/profiles", data={
            "csrf": csrf_of(editor), "name": "default", "spec": "kubelet: {max_pods: 5}", "expected_version": "1"})
        assert bad.status_code == 422 and "spec.kubelet.max_pods" in field_error(bad.text, "spec"), bad.text
        stale = browser.post("/ui/clusters/reg-prof/profiles", data={
            "csrf": csrf_of(editor), "name": "default", "spec": "labels: {a.b/c: d}", "expected_version": "0"})
        assert stale.status_code == 409, "an edit of an older version is refused, not lost"
        assert inv.get("clusters/reg-prof/node-profiles/default").json()["version"] == 1, "nothing stored"
