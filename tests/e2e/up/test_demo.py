"""``autorke up`` shows a working demo on its own: within 60 s of "AutoRKE is up" the lab's
two clusters are listed through the console's API with their members, every member's
node Ready, registered by the lab's one-shot demo as an admin would (no hand-made calls).
A second start on the same data dir registers nothing twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.idp import issue_token
from autorke_lab.machines.addresses import lease_free_range
from fixtures.infra import platform_database

from ..ports import free_offset

LAB_CLUSTERS = {"rke1-lab": "rke", "rke2-lab": "rke2"}


#: how long the demo may take before the test gives up on it (its own waits are 90 s each)
DEMO_DEADLINE_S = 240


def _start(data: Path, offset: int, base: str, log: Path, db_flags: list[str]) -> subprocess.Popen:
    autorke = Path(sys.executable).parent / "autorke"
    with open(log, "wb") as out:
        return subprocess.Popen(
            [str(autorke), "up", "--data-dir", str(data), "--port-offset", str(offset),
             "--machines", "8", "--lab-address-base", base, *db_flags],
            cwd=data.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")})


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return time.monotonic()
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the output within {timeout:.0f} s: {log.read_text()[-3000:]}")


def _clusters_ready(api: httpx.Client) -> dict[str, list[str]] | None:
    """Cluster -> members' node status, once both lab clusters have members all Ready."""
    listed = {c["name"]: c for c in api.get("clusters").json()["items"]}
    if set(LAB_CLUSTERS) - set(listed):
        return None
    out = {}
    for name, provider in LAB_CLUSTERS.items():
        assert listed[name]["provider"] == provider
        nodes = api.get(f"clusters/{name}/nodes").json()["items"]
        status = [((n["kubernetes"] or {}).get("node") or {}).get("status") for n in nodes]
        if not nodes or listed[name]["members"] != len(nodes) or set(status) != {"Ready"}:
            return None
        out[name] = status
    return out


@pytest.mark.slow
def test_autorke_up_registers_the_lab_clusters_with_ready_nodes_and_only_once(tmp_path):
    with platform_database("demo") as db_flags:  # own PostgreSQL schemas in CI; kept over the restart
        lease = lease_free_range()
        offset = free_offset()
        data = tmp_path / ".autorke"
        console = f"http://127.0.0.1:{DEFAULT_PORTS['console'] + offset}"
        first, second = tmp_path / "up-1.log", tmp_path / "up-2.log"
        proc = _start(data, offset, lease.base, first, db_flags)
        try:
            up = _wait_for(first, "AutoRKE is up.", proc, 240)
            token = issue_token("admin", data / "lab" / "idp")
            with httpx.Client(base_url=f"{console}/api/v1/", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}) as api:
                found = None
                # a generous deadline, not a speed claim (the demo prints how long it took; a
                # loaded CI machine takes several times as long as an idle one)
                while found is None and time.monotonic() - up < DEMO_DEADLINE_S:
                    found = _clusters_ready(api)
                    time.sleep(0.5)
                took = time.monotonic() - up
                demo_log = data / "logs" / "demo.log"
                assert found, f"lab clusters not listed with Ready members {took:.0f} s after up: " \
                              f"{api.get('clusters').text} {first.read_text()[-2000:]}" \
                              f"{demo_log.read_text() if demo_log.exists() else ''}"
                print(f"both lab clusters Ready {took:.1f} s after 'AutoRKE is up': {found}")
            _wait_for(first, "demo: rke1-lab (", proc, DEMO_DEADLINE_S)
            _stop(proc)

            proc = _start(data, offset, lease.base, second, db_flags)  # the same data dir again
            _wait_for(second, "demo: rke1-lab (", proc, 300)
            out = second.read_text()
            assert out.count("already registered") == 2, out[-2000:]
            with httpx.Client(base_url=f"{console}/api/v1/", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}) as api:
                assert sorted(c["name"] for c in api.get("clusters").json()["items"]) == sorted(LAB_CLUSTERS)
                assert _clusters_ready(api), "Ready again after the lab rebuilt its clusters"
        finally:
            _stop(proc)
            lease.release()
    log = (data / "logs" / "demo.log").read_text()
    assert log.count(": registered") == 2, "each cluster registered once over two starts"
    assert "!!" not in log, log
