"""One running platform for every journey (issue 14, item 1): ``autorke up`` with the lab,
driven only through the console's public REST API (``/api/v1/...``) with lab bearer
tokens, as another platform would drive it.

Outcomes are read where they happen, never from the platform's own word alone: the lab
machines' command logs (what each machine received over SSH, from the lab's control API),
the lab Kubernetes APIs (the official client, kubeconfigs from the lab status), the lab
VCalico's tickets, and the inventory's machine records (``GET /api/v1/machines/{id}``).
The inventory's ``inventory.machine.state_changed`` events are recorded from the console's
event stream (SSE) for the whole run, so a journey can check the lifecycle its machines
went through, transient states included.

Journeys take free machines with ``platform.claim(n)``: each goes to one journey only, so
no journey depends on another's order. Everything started here is stopped here, by its
own PID (SIGINT to ``autorke up``, its process group only as a last resort), and the
leased lab address range is released.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config

from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.idp import issue_token
from autorke_lab.machines.addresses import lease_free_range
from fixtures.infra import platform_database
from fixtures.processes import stop_up
from fixtures.waiting import ready, wait  # noqa: F401 - the journeys import them from here

from ..ports import free_offset

#: rke1-lab and rke2-lab take six machines each (m001-m012); the rest are free to claim.
MACHINES = 30
SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")
CLUSTERS = ("rke1-lab", "rke2-lab")
STATE_SUBJECT = "inventory.machine.state_changed"



def problem(r: httpx.Response) -> str:
    """The stable slug of a problem+json answer."""
    return r.json().get("type", "").rsplit("/", 1)[-1]



class StateEvents:
    """Every ``inventory.machine.state_changed`` event the console streams, in arrival order
    (one SSE connection for the whole run, opened before any journey starts)."""

    def __init__(self, url: str, token: Callable[[], str], subject: str = STATE_SUBJECT) -> None:
        self.url, self.token, self.subject = url, token, subject
        self.seen: list[dict] = []
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="state-events", daemon=True)

    def start(self) -> None:
        self.thread.start()
        if not self.connected.wait(30):
            raise RuntimeError("the console's event stream did not answer within 30 s")

    def _run(self) -> None:
        while not self.stopping.is_set():
            with suppress(httpx.HTTPError):
                headers = {"Authorization": f"Bearer {self.token()}", "Accept": "text/event-stream"}
                timeout = httpx.Timeout(10, read=30)
                with httpx.stream("GET", self.url, params={"subject": self.subject}, headers=headers,
                                  timeout=timeout) as r:
                    event = None
                    for line in r.iter_lines():
                        if self.stopping.is_set():
                            return
                        if line.startswith("event:"):
                            event = line.split(":", 1)[1].strip()
                        elif line.startswith("data:") and event == "ready":
                            self.connected.set()
                        elif line.startswith("data:") and event is None:
                            self.seen.append(json.loads(line.split(":", 1)[1]))
                        elif not line:
                            event = None
            time.sleep(0.5)

    def path(self, host: str, since: int = 0) -> list[str]:
        """The states ``host`` went through after event number ``since``: its first
        from-state, then every to-state."""
        moves = [e["data"] for e in self.seen[since:] if e["data"].get("hostname") == host]
        return [moves[0]["from_state"], *(m["to_state"] for m in moves)] if moves else []

    def mark(self) -> int:
        return len(self.seen)


@dataclass
class Platform:
    console: str
    lab: dict
    data_dir: Path
    nats_url: str = ""
    events: StateEvents | None = None
    claimed: set[str] = field(default_factory=set)

    # -- the public REST API, as a lab user --------------------------------------------
    def token(self, user: str) -> str:
        return issue_token(user, self.data_dir / "lab" / "idp")

    def subject(self, user: str) -> str:
        """Who the platform records lab user ``user`` as: ``<issuer>#<sub>``."""
        return f"{(self.data_dir / 'lab' / 'idp' / 'issuer').read_text().strip()}#{user}"

    def call(self, method: str, path: str, user: str = "operator", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.console}/api/v1/{path}", headers=headers, timeout=60, **kw)

    def change(self, user: str = "operator", **body: Any) -> httpx.Response:
        return self.call("POST", "changes", user, json=body)

    def get_change(self, change_id: str) -> dict:
        r = self.call("GET", f"changes/{change_id}", "viewer")
        assert r.status_code == 200, r.text
        return r.json()

    def approve(self, change_id: str, step: str = "approve", user: str = "approver") -> httpx.Response:
        return self.call("POST", f"changes/{change_id}/approvals", user,
                         json={"step": step, "decision": "approve", "comment": "journey: looks right"})

    def wait_change(self, change_id: str, *statuses: str, timeout: float = 240) -> dict:
        """The change once its status is one of ``statuses``; fails at once on an end state
        that is not among them (with the change's last history entries)."""
        final = {"succeeded", "failed", "cancelled", "partially_failed"}

        def done() -> dict | None:
            c = self.get_change(change_id)
            if c["status"] in statuses:
                return c
            assert c["status"] not in final, \
                f"change {change_id} is {c['status']}, not {statuses}: {c.get('problem')} " \
                f"{c.get('waiting_for')} {c.get('history', [])[-4:]}"
            return None
        return wait(done, timeout, f"change {change_id} in {statuses}")

    def run_change(self, timeout: float = 300, **body: Any) -> tuple[dict, dict]:
        """Create a change as ``operator``, approve it as ``approver`` once it waits, wait
        until it succeeded: (the created change, the finished one)."""
        r = self.change(**body)
        assert r.status_code == 201, r.text
        created = r.json()
        self.wait_change(created["id"], "awaiting_approval", timeout=180)
        assert self.approve(created["id"]).status_code == 200
        return created, self.wait_change(created["id"], "succeeded", timeout=timeout)

    def machine(self, host: str) -> dict:
        r = self.call("GET", f"machines/{host}", "viewer")
        assert r.status_code == 200, r.text
        return r.json()

    def states(self, hosts: list[str]) -> dict[str, str]:
        return {h: self.machine(h)["state"] for h in hosts}

    def nodes(self, cluster: str) -> dict[str, dict]:
        r = self.call("GET", f"clusters/{cluster}/nodes", "viewer")
        assert r.status_code == 200, r.text
        return {m["hostname"]: m for m in r.json()["items"]}

    def members(self, cluster: str) -> dict[str, list[str]]:
        return {h: sorted(m["roles"]) for h, m in self.nodes(cluster).items()}

    def node_ready_in_inventory(self, cluster: str) -> dict[str, str]:
        return {h: ((m.get("kubernetes") or {}).get("node") or {}).get("status", "Unknown")
                for h, m in self.nodes(cluster).items()}

    # -- the lab ---------------------------------------------------------------------------
    @property
    def control(self) -> str:
        return self.lab["control_url"]

    def machine_names(self) -> list[str]:
        return [m["name"] for m in self.lab["machines"]]

    def lab_cluster(self, name: str) -> dict:
        return next(c for c in self.lab["components"]["clusters"]["clusters"] if c["name"] == name)

    def commands(self, host: str) -> list[str]:
        r = httpx.get(f"{self.control}/machines/{host}/commands", timeout=30)
        assert r.status_code == 200, r.text
        return [c["command"] for c in r.json()["commands"]]

    def clear_command_logs(self) -> None:
        for name in self.machine_names():
            httpx.delete(f"{self.control}/machines/{name}/commands", timeout=30).raise_for_status()

    def touched(self) -> dict[str, int]:
        """Machine -> SSH commands it received since the logs were last emptied."""
        return {n: len(log) for n in self.machine_names() if (log := self.commands(n))}

    def exec_in(self, host: str, script: str) -> str:
        """Run ``script`` inside lab machine ``host`` host-side (its namespaces, not over
        SSH: no command log entry), to prepare what a journey needs to find there."""
        pid = next(m["pid"] for m in self.lab["machines"] if m["name"] == host)
        done = subprocess.run(["nsenter", "-t", str(pid), "-m", "-u", "-p", "--", "sh", "-c", script],
                              check=False, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{host}: {script}: {done.stderr}"
        return done.stdout

    def set_fault(self, host: str, kind: str, **params: Any) -> None:
        httpx.put(f"{self.control}/machines/{host}/faults/{kind}", json=params, timeout=30).raise_for_status()

    def clear_faults(self, host: str) -> None:
        httpx.delete(f"{self.control}/machines/{host}/faults", timeout=30).raise_for_status()

    @contextmanager
    def kube(self, cluster: str) -> Iterator[client.ApiClient]:
        """An official-client ApiClient for a lab cluster's Kubernetes API."""
        kubeconfig = yaml.safe_load(Path(self.lab_cluster(cluster)["kubeconfig"]).read_text())
        api = config.new_client_from_config_dict(kubeconfig)
        try:
            yield api
        finally:
            api.close()

    def claim(self, n: int) -> list[str]:
        """``n`` free lab machines no other journey has claimed."""
        free = self.lab["components"]["clusters"]["free_machines"]
        left = [h for h in free if h not in self.claimed]
        assert len(left) >= n, f"only {len(left)} free machines left; raise MACHINES"
        self.claimed.update(left[:n])
        return left[:n]


def _wait_ready(proc: subprocess.Popen, port: dict[str, int], log: Path, timeout: float = 240) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"autorke up exited: {log.read_text()[-3000:]}")
        try:
            return all(httpx.get(f"http://127.0.0.1:{port[s]}/readyz", timeout=2).status_code == 200
                       for s in SERVICES)
        except httpx.HTTPError:
            return False
    wait(up, timeout, f"every service ready (log: {log})")


def _clusters_ready(p: Platform) -> bool:
    """``autorke up``'s demo registers and imports both lab clusters through the same API:
    both listed, with every lab node a member and Ready, as the inventory
    shows them; and the orchestrator knows them (a dry run of a change on each passes)."""
    r = p.call("GET", "clusters", "viewer")
    if r.status_code != 200 or not set(CLUSTERS) <= {c["name"] for c in r.json()["items"]}:
        return False
    for name in CLUSTERS:
        expected = {n["hostname"] for n in p.lab_cluster(name)["nodes"]}
        status = p.node_ready_in_inventory(name)
        if set(status) != expected or set(status.values()) != {"Ready"}:
            return False
        worker = min(h for h, roles in p.members(name).items() if roles == ["worker"])
        dry = p.change(type="node.update", cluster=name, targets=[worker], params={"labels": {"x": "y"}},
                       dry_run=True)
        if dry.status_code != 200:
            return False
    return True




@pytest.fixture(scope="package")
def platform(tmp_path_factory) -> Iterator[Platform]:
    with platform_database("journeys") as db_flags:  # own PostgreSQL schemas in CI
        data = tmp_path_factory.mktemp("journeys") / ".autorke"
        lease = lease_free_range()
        proc: subprocess.Popen | None = None
        running: Platform | None = None
        try:
            offset = free_offset()
            port = {name: p + offset for name, p in DEFAULT_PORTS.items()}
            log = data.parent / "up.log"
            env = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
            env["AUTORKE_OIDC_CLIENT_SECRET"] = "lab-console-secret"  # the lab IdP's documented client secret
            autorke = Path(sys.executable).parent / "autorke"
            with open(log, "wb") as out:
                proc = subprocess.Popen([str(autorke), "up", "--data-dir", str(data), "--port-offset", str(offset),
                                         "--machines", str(MACHINES), "--lab-address-base", lease.base, *db_flags],
                                        cwd=data.parent, stdout=out, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
            _wait_ready(proc, port, log)
            lab = httpx.get(f"http://127.0.0.1:{port['cmdb']}/lab/status", timeout=10).json()
            running = Platform(f"http://127.0.0.1:{port['console']}", lab, data, f"nats://127.0.0.1:{port['nats']}")
            running.events = StateEvents(f"{running.console}/api/v1/events", lambda: running.token("viewer"))
            running.events.start()
            wait(lambda: _clusters_ready(running), 180, "both lab clusters registered, imported, nodes Ready")
            yield running
        finally:
            if running is not None and running.events is not None:
                running.events.stopping.set()
            if proc is not None:
                stop_up(proc)
            lease.release()


@pytest.fixture
def clean_logs(platform: Platform) -> Platform:
    """The platform with every machine's command log emptied: what a journey finds in a
    log was sent during the journey."""
    platform.clear_command_logs()
    return platform
