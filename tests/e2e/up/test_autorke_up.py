"""``autorke up`` as a newcomer runs it: every service answers /readyz 200 within 60 s, the
lab is up, ``--no-demo`` leaves it without clusters, and after SIGINT not one of the
processes it started is left."""
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
from fixtures.processes import descendants

from ..ports import free_offset

SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")




@pytest.mark.slow
def test_autorke_up_serves_every_service_and_leaves_nothing_after_sigint(tmp_path):
    lease = lease_free_range()
    offset = free_offset()
    autorke = Path(sys.executable).parent / "autorke"
    proc = subprocess.Popen(
        [str(autorke), "up", "--data-dir", str(tmp_path / ".autorke"), "--port-offset", str(offset),
         "--machines", "3", "--lab-address-base", lease.base, "--no-demo"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")},
    )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        ready: dict[str, bool] = {}
        while time.monotonic() < deadline and not all(ready.get(s) for s in SERVICES):
            assert proc.poll() is None, proc.stdout.read().decode()
            started |= descendants(proc.pid)
            for svc in SERVICES:
                try:
                    r = httpx.get(f"http://127.0.0.1:{DEFAULT_PORTS[svc] + offset}/readyz", timeout=1)
                    ready[svc] = r.status_code == 200
                except httpx.HTTPError:
                    ready[svc] = False
            time.sleep(0.5)
        assert all(ready.get(s) for s in SERVICES), f"not ready within 60 s: {ready}"
        lab = httpx.get(f"http://127.0.0.1:{DEFAULT_PORTS['cmdb'] + offset}/lab/status", timeout=5).json()
        assert len(lab["machines"]) == 3
        started |= descendants(proc.pid)
        assert len(started) >= 3 + len(SERVICES) + 2, "nats, lab, sshd machines and services run"
        token = issue_token("admin", tmp_path / ".autorke" / "lab" / "idp")
        r = httpx.get(f"http://127.0.0.1:{DEFAULT_PORTS['console'] + offset}/api/v1/clusters",
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200 and r.json()["items"] == [], "--no-demo: an empty platform"
        assert not (tmp_path / ".autorke" / "logs" / "demo.log").exists(), "no demo was run"
    finally:
        started |= descendants(proc.pid) if proc.poll() is None else set()
        proc.send_signal(signal.SIGINT)
        try:
            out = proc.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0].decode()
        lease.release()
    assert proc.returncode == 0, out
    assert "AutoRKE is up." in out and "stopped." in out
    time.sleep(1.0)
    left = [p for p in started if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert not left, f"processes left after SIGINT: {left}"
