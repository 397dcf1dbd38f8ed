"""The running platform and a real browser for the console's browser tests.

``platform`` starts ``autorke up`` (every service, embedded NATS, SQLite, the lab with its
identity provider, CMDB and lab clusters) on free ports and a lab address range no other
test uses, waits for its demo to register the lab's clusters through the public API (and
registers the RKE2 one itself, as an admin would, if the demo did not), and stops
everything by its own PID afterwards. ``browser`` is Playwright driving
Debian's Chromium at /usr/bin/chromium (installed by deploy/setup-system.sh; the test
tool never downloads a browser). Screenshots go to tests/e2e/artifacts/ (git-ignored).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.idp import issue_token
from autorke_lab.machines.addresses import lease_free_range

from ..ports import free_offset

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")
LAB_CLUSTER = "rke2-lab"
#: Lab machines: the lab builds rke1-lab on m001-m002 and rke2-lab on m003-m004 (half the
#: machines when fewer than its clusters ask for), leaving m005-m008 free; the browser
#: tests add two of them each (distinct ones: a change locks its machines).
MACHINES = 8


@dataclass
class Platform:
    console: str
    lab: dict
    state_dir: Path
    port: dict[str, int]

    def token(self, user: str) -> str:
        return issue_token(user, self.state_dir / "lab" / "idp")

    def subject(self, user: str) -> str:
        """Who the platform records lab user ``user`` as: ``<issuer>#<sub>``."""
        return f"{(self.state_dir / 'lab' / 'idp' / 'issuer').read_text().strip()}#{user}"

    def api(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.console}/api/v1/", timeout=30,
                            headers={"Authorization": f"Bearer {self.token(user)}"})

    cluster: str = LAB_CLUSTER
    import_report: dict | None = None
    demo: str = ""  # autorke up's "demo: ..." line

    def lab_cluster(self, name: str) -> dict:
        return next(c for c in self.lab["components"]["clusters"]["clusters"] if c["name"] == name)


def _wait_ready(proc: subprocess.Popen, port: dict[str, int], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"autorke up exited: {log.read_text()[-3000:]}")
        try:
            if all(httpx.get(f"http://127.0.0.1:{port[s]}/readyz", timeout=1).status_code == 200 for s in SERVICES):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"platform not ready in {timeout}s: {log.read_text()[-3000:]}")


def _wait_for_demo(log: Path, timeout: float = 180) -> str:
    """The ``demo:`` line ``autorke up`` prints once the lab's clusters are registered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip().startswith("demo:")]
        if found:
            return found[-1].strip()
        time.sleep(0.5)
    return f"no demo line within {timeout:.0f} s"


def _register_lab_cluster(platform: Platform) -> None:
    """What an admin does once: register the lab's RKE2 cluster with its join address and
    token (a new node joins with them; the token and the kubeconfig are sealed at rest)."""
    lab = platform.lab_cluster(LAB_CLUSTER)
    assert lab["ready"], lab
    hosts = sorted({".".join(m["address"].split(".")[:3]) + ".0/24" for m in platform.lab["machines"]})
    token = Path(lab["join_token_file"]).read_text().strip()
    with platform.api("admin") as api:
        if api.get(f"clusters/{LAB_CLUSTER}").status_code == 200:  # the demo registered it
            platform.import_report = api.get(f"clusters/{LAB_CLUSTER}/nodes").json().get("node_status")
            return
        r = api.post("clusters", json={
            "name": LAB_CLUSTER, "provider": "rke2", "api_endpoint": lab["api_url"],
            "kubeconfig": Path(lab["kubeconfig"]).read_text(), "host_networks": hosts,
            "pod_cidr": lab["cluster_cidr"], "service_cidr": lab["service_cidr"],
            "join_address": lab["server_url"], "join_token": token})
        assert r.status_code == 201, r.text
        assert r.json()["has_join_token"] and token not in r.text, "the token is never shown"
    with platform.api("operator") as api:  # its nodes become members, as read from its API server
        r = api.post(f"clusters/{LAB_CLUSTER}:import", json={"source": "kubernetes"})
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = api.get(f"clusters/{LAB_CLUSTER}/imports/{job}").json()
            if status["status"] not in ("pending", "running"):
                break
            time.sleep(1)
        platform.import_report = status


# Package scope, not session: the platform (and the sync Playwright loop below) end with
# these tests instead of running under every later test of the session.
@pytest.fixture(scope="package")
def platform(tmp_path_factory) -> Iterator[Platform]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run deploy/setup-system.sh (installs Debian's chromium)")
    data = tmp_path_factory.mktemp("platform") / ".autorke"
    lease = lease_free_range()
    offset = free_offset()
    port = {name: p + offset for name, p in DEFAULT_PORTS.items()}
    log = data.parent / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
    # The lab IdP's console client secret (fixed and documented in the lab; guards nothing real).
    env["AUTORKE_OIDC_CLIENT_SECRET"] = "lab-console-secret"
    autorke = Path(sys.executable).parent / "autorke"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(autorke), "up", "--data-dir", str(data), "--port-offset", str(offset),
                                 "--machines", str(MACHINES), "--lab-address-base", lease.base],
                                cwd=data.parent, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        _wait_ready(proc, port, log)
        lab = httpx.get(f"http://127.0.0.1:{port['cmdb']}/lab/status", timeout=10).json()
        running = Platform(f"http://127.0.0.1:{port['console']}", lab, data, port)
        running.demo = _wait_for_demo(log)
        _register_lab_cluster(running)
        yield running
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        lease.release()


@pytest.fixture(scope="package")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def sign_in(chromium, platform: Platform):
    """``sign_in("operator")`` → a page signed in through the IdP's login page, in its own
    browser context (its own cookies), at a laptop-sized viewport."""
    contexts = []

    def open_as(user: str):
        context = chromium.new_context(viewport={"width": 1440, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{platform.console}/")
        page.click("[data-test=sign-in]")
        page.click(f"button[value={user}]")
        page.wait_for_url("**/ui/dashboard**")  # where a signed-in user lands
        assert page.locator("[data-test=user]").inner_text() == user
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def shot():
    """``shot(page, "machines")`` saves tests/e2e/artifacts/console-machines.png."""
    def take(page, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
