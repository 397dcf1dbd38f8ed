"""``autorke lab demo --api URL``: register and import the lab's clusters into a running
platform, so a demo (``autorke up``) shows clusters with members without four hand-made
API calls.

It does what an admin of another platform would: with a bearer token the lab's own IdP
issues for ``admin``, through the platform's public REST API (the console's gateway),
``POST /api/v1/clusters`` for each ready lab cluster, then ``:import`` — ``rke2-lab``
from its API server (with its join address and token, so nodes can be added later),
``rke1-lab`` from its ``cluster.yml`` and ``cluster.rkestate`` (provider ``rke``) — and
waits until every member's node is Ready in the inventory; it also stores a ``gpu-flat``
node profile per cluster (GPU workers on the flat network) to pick in the node-add form. Nothing here knows the
platform's code; only its API.

An import from files is a ``config.import`` change (it writes the cluster's keys): the
lab's ``operator`` asks for it, and ``admin`` approves it once its preview (the nodes it
matches) is there, as two people would; the requester never approves their own change.

Idempotent: a cluster already registered with members is not registered or imported
again (``already registered``); its node status is refreshed, and only when that fails
(the lab builds its clusters anew at every start, with new certificates) are its
kubeconfig and join token updated (``PATCH``, ``credentials renewed``). A failure is printed
with ``!!`` and makes the exit status 1; the last line is always
``demo: <cluster> (<n> members, <r> Ready), ...`` so ``autorke up`` can repeat it in its own
output.
"""
from __future__ import annotations

import argparse
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from .idp import issue_token

#: The node profile the demo stores for each cluster (:meth:`Demo._profile`).
GPU_PROFILE = "gpu-flat"
GPU_PROFILE_SPEC = {"description": "GPU workers on the flat network", "init_profile": "gpu",
                    "labels": {"node.example.com/pool": "gpu"}, "network": {"enabled": True, "route_reflectors": 1}}
#: The lab names RKE1 ``rke1``; the platform's API calls the provider ``rke``.
PROVIDERS = {"rke1": "rke", "rke2": "rke2"}


class DemoFailed(Exception):
    """One cluster could not be registered or imported (the message says why)."""


@dataclass
class Outcome:
    cluster: str
    members: int = 0
    ready: int = 0
    note: str = ""
    error: str = ""

    def line(self) -> str:
        if self.error:
            return f"{self.cluster} (failed: {self.error})"
        note = f", {self.note}" if self.note else ""
        return f"{self.cluster} ({self.members} members, {self.ready} Ready{note})"


def host_networks(cluster: dict) -> list[str]:
    """The /24 of every member's address: the networks the cluster's hosts live on."""
    return sorted({str(ipaddress.ip_network(f"{n['address']}/24", strict=False))
                   for n in cluster.get("nodes", [])})


def registration(cluster: dict) -> dict:
    """The ``POST /api/v1/clusters`` body for a lab cluster (its files read here)."""
    body = {"name": cluster["name"], "provider": PROVIDERS[cluster["provider"]],
            "api_endpoint": cluster.get("api_url"), "host_networks": host_networks(cluster),
            "pod_cidr": cluster["cluster_cidr"], "service_cidr": cluster["service_cidr"]}
    if cluster.get("kubeconfig") and Path(cluster["kubeconfig"]).exists():
        body["kubeconfig"] = Path(cluster["kubeconfig"]).read_text()
    if cluster["provider"] == "rke2":
        body["join_address"] = cluster["server_url"]
        body["join_token"] = Path(cluster["join_token_file"]).read_text().strip()
    # RKE1: no options. Where the lab rke finds the lab API's kubeconfig, the known_hosts and
    # the SSH key is the lab's rke wrapper's business (the executor's rke_binary), never a
    # cluster option (options may not name SSH keys or files: H1)
    return body


class Demo:
    """``api`` acts as the lab's admin; ``requester`` (the lab's operator) asks for the
    changes the admin approves."""

    def __init__(self, api: httpx.Client, say: Callable[[str], None] = print,
                 timeout_s: float = 90.0, requester: httpx.Client | None = None) -> None:
        self.api = api
        self.requester = requester or api
        self.say = say
        self.timeout_s = timeout_s

    def _check(self, r: httpx.Response, what: str, *ok: int) -> dict:
        if r.status_code not in ok:
            raise DemoFailed(f"{what}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def _until(self, what: str, probe: Callable[[], object]) -> object:
        deadline = time.monotonic() + self.timeout_s
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise DemoFailed(f"{what} not within {self.timeout_s:.0f} s")
            time.sleep(0.5)

    def run(self, cluster: dict) -> Outcome:
        name = cluster["name"]
        out = Outcome(name)
        if not cluster.get("ready"):
            raise DemoFailed(f"the lab did not build it: {cluster.get('error', 'not ready')}")
        r = self.api.get(f"clusters/{name}")
        if r.status_code == 200 and r.json().get("members"):
            out.note = "already registered"
            if not self._refreshed(name):
                self._renew(cluster, r.headers.get("ETag", "*"))
                out.note += ", credentials renewed"
                if cluster["provider"] != "rke2":  # the lab made new certificates: a new rkestate
                    self._import(cluster)
                if not self._refreshed(name):
                    raise DemoFailed("its API still cannot be read with the lab's kubeconfig")
        else:
            if r.status_code == 404:
                self._check(self.api.post("clusters", json=registration(cluster)),
                            f"register {name}", 201)
                self.say(f"{name}: registered")
            else:
                self._check(r, f"read {name}", 200)
            self._wait_machines(cluster)
            self.say(f"{name}: its machines are in the inventory")
            self._import(cluster)
        self._profile(name)
        nodes = self._wait_ready(name)
        self.say(f"{name}: every node Ready")
        out.members = len(nodes)
        out.ready = sum(1 for n in nodes if _node_status(n) == "Ready")
        return out

    def _profile(self, name: str) -> None:
        """A node profile to pick in the node-add form besides the default: GPU workers on
        the flat network (the change gives the pool's CIDR). Stored once; kept as it is after."""
        r = self.api.put(f"clusters/{name}/node-profiles/{GPU_PROFILE}",
                         json={"spec": GPU_PROFILE_SPEC, "expected_version": 0,
                               "comment": "demo: GPU workers peered with their racks' ToR"})
        if r.status_code == 201:
            self.say(f"{name}: node profile {GPU_PROFILE} stored")
        elif r.status_code != 409:  # 409: stored before (edited since, perhaps): left alone
            self._check(r, f"store node profile {GPU_PROFILE} of {name}", 201)

    def _refreshed(self, name: str) -> bool:
        """Whether a node status refresh, asked for now, reads the cluster's API."""
        job = self._check(self.api.post(f"clusters/{name}/nodes:refresh"),
                          f"refresh nodes of {name}", 202)["job_id"]

        def finished() -> dict | None:
            latest = self.api.get(f"clusters/{name}/nodes").json().get("node_status") or {}
            return latest if latest.get("job_id") == job and latest.get("finished_at") else None

        latest = self._until(f"{name}: node status job {job}", finished)
        return latest.get("status") == "done"  # type: ignore[union-attr]

    def _renew(self, cluster: dict, etag: str) -> None:
        body = registration(cluster)
        patch = {k: body[k] for k in ("api_endpoint", "kubeconfig", "join_address", "join_token") if k in body}
        self._check(self.api.patch(f"clusters/{cluster['name']}", json=patch,
                                   headers={"If-Match": etag}), f"update {cluster['name']}", 200)
        self.say(f"{cluster['name']}: {', '.join(k for k in patch if k != 'api_endpoint')} "
                 "renewed from the lab")

    def _wait_machines(self, cluster: dict) -> None:
        """The inventory syncs the CMDB at start; an import before the members' machines
        are there would find them unmatched."""
        names = [n["hostname"] for n in cluster.get("nodes", [])]
        self._until(f"{cluster['name']}: machines {', '.join(names)} in the inventory",
                    lambda: all(self.api.get(f"machines/{n}").status_code == 200 for n in names))

    def _import(self, cluster: dict) -> None:
        name = cluster["name"]
        if cluster["provider"] == "rke2":
            job = self._check(self.api.post(f"clusters/{name}:import", json={"source": "kubernetes"}),
                              f"import {name}", 202)["job_id"]
            status = self._until(f"{name}: import job {job}", lambda: _finished(
                self.api.get(f"clusters/{name}/imports/{job}").json()))
            if status["status"] != "done":
                raise DemoFailed(f"import job {job} {status['status']}: {status.get('report')}")
            report = status.get("report") or {}
        else:
            report = self._import_files(cluster)
        matched, unmatched = report.get("matched") or [], report.get("unmatched") or []
        self.say(f"{name}: imported, {len(matched)} members"
                 + (f", unmatched: {unmatched}" if unmatched else ""))
        if unmatched:
            raise DemoFailed(f"import left {len(unmatched)} nodes unmatched: {unmatched}")

    def _import_files(self, cluster: dict) -> dict:
        """A config.import change: asked for by the operator, approved by the admin once its
        preview is there; the preview's report (matched and unmatched nodes)."""
        name = cluster["name"]
        files = {"source": "files", "cluster_yml": Path(cluster["cluster_yml"]).read_text(),
                 "rkestate": Path(cluster["rkestate"]).read_text()}

        def asked() -> httpx.Response | None:  # 404 until the orchestrator has seen the registration
            r = self.requester.post(f"clusters/{name}:import", json=files)
            return None if r.status_code == 404 else r

        change = self._check(self._until(f"{name}: the orchestrator knows it", asked),  # type: ignore[arg-type]
                             f"import {name}", 202)
        waiting = self._wait_change(change["id"], "awaiting_approval")
        report = (waiting["plan"]["steps"][0].get("preview") or {})
        if report.get("unmatched"):
            return report  # not approved: the caller says why
        self.say(f"{name}: change {change['id']} awaits approval")
        self._check(self.api.post(f"changes/{change['id']}/approvals", json={
            "step": "approve_admin", "decision": "approve", "comment": "demo: the lab's own files"}),
            f"approve the import of {name}", 200)
        self._wait_change(change["id"], "succeeded")
        return report

    def _wait_change(self, change_id: str, status: str) -> dict:
        def reached() -> dict | None:
            change = self._check(self.api.get(f"changes/{change_id}"), f"change {change_id}", 200)
            if change["status"] != status and not change["open"]:
                raise DemoFailed(f"change {change_id} {change['status']}: {change.get('problem')}")
            return change if change["status"] == status else None

        return self._until(f"change {change_id} {status}", reached)  # type: ignore[return-value]

    def _wait_ready(self, name: str) -> list[dict]:
        def all_ready() -> list[dict] | None:
            nodes = self._check(self.api.get(f"clusters/{name}/nodes"), f"nodes of {name}", 200)
            items = nodes["items"]
            return items if items and all(_node_status(n) == "Ready" for n in items) else None

        return self._until(f"{name}: every node Ready", all_ready)  # type: ignore[return-value]


def _node_status(machine: dict) -> str | None:
    return ((machine.get("kubernetes") or {}).get("node") or {}).get("status")


def _finished(job: dict) -> dict | None:
    return job if job.get("status") not in ("pending", "running") else None


def lab_clusters(status_url: str, timeout_s: float = 120.0) -> list[dict]:
    """The lab's clusters from its status (they are built before the lab reports ready)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = httpx.get(status_url, timeout=5).json()
            if status.get("ready", True) and "clusters" in status.get("components", {}):
                return status["components"]["clusters"].get("clusters") or []
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise DemoFailed(f"no lab status at {status_url} within {timeout_s:.0f} s")
        time.sleep(1.0)


def run_demo(api_url: str, state_dir: Path, status_url: str | None = None,
             say: Callable[[str], None] = print, timeout_s: float = 90.0) -> int:
    from .runtime import read_state

    t0 = time.monotonic()
    if status_url is None:
        state = read_state(state_dir)
        if not state:
            say(f"!! demo: no running lab in {state_dir}")
            say("demo: nothing registered")
            return 1
        status_url = f"{state['control_url']}/status"
    try:
        clusters = lab_clusters(status_url)
        token = issue_token("admin", state_dir / "idp")
        requester_token = issue_token("operator", state_dir / "idp")
    except (DemoFailed, FileNotFoundError) as exc:
        say(f"!! demo: {exc}")
        say("demo: nothing registered")
        return 1
    if not clusters:
        say("demo: the lab has no clusters")
        return 0
    outcomes = []
    base = f"{api_url.rstrip('/')}/api/v1/"
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as api, \
            httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {requester_token}"}) as asker:
        demo = Demo(api, lambda line: say(f"{line} (at {time.monotonic() - t0:.1f} s)"), timeout_s,
                    requester=asker)
        for cluster in clusters:
            try:
                outcomes.append(demo.run(cluster))
            except (DemoFailed, httpx.HTTPError, OSError, KeyError) as exc:
                say(f"!! demo: {cluster['name']}: {exc}")
                outcomes.append(Outcome(cluster["name"], error=str(exc)[:200]))
    say(f"demo: {', '.join(o.line() for o in outcomes)} in {time.monotonic() - t0:.1f} s")
    return 1 if any(o.error for o in outcomes) else 0


def add_demo_command(sub, default_state_dir: Path) -> None:
    p = sub.add_parser("demo", help="register and import the lab's clusters into a running "
                                    "platform through its REST API (as the lab's admin)")
    p.add_argument("--api", required=True, help="the platform's base URL (the console), "
                                                "e.g. http://127.0.0.1:8080")
    p.add_argument("--status-url", help="the lab's status (default: from its state file)")
    p.add_argument("--timeout", type=float, default=90.0, help="seconds per wait (default 90)")
    p.add_argument("--state-dir", type=Path, default=default_state_dir,
                   help="the lab's state directory (default: %(default)s)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, flush=True)

    return run_demo(args.api, Path(args.state_dir), args.status_url, say=say, timeout_s=args.timeout)

