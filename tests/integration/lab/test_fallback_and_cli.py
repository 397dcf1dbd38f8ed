"""The lab says clearly when it cannot isolate machines, and its CLI works end to end."""
from __future__ import annotations

import json
import subprocess
import sys

import httpx

from autorke_lab.machines.addresses import free_port, lease_free_range
from autorke_lab.machines.namespaces import namespaces_usable


def test_without_namespaces_the_lab_falls_back_to_plain_machines_and_says_why(lab_factory, capsys):
    plain = lab_factory(machines=2, isolation="plain", cmdb_size=5)
    notice = " ".join(plain.status["notices"])
    assert "namespaces unavailable" in notice and "Run as root" in notice
    assert "namespaces unavailable" in capsys.readouterr().err
    assert plain.status["isolation"] == "plain"
    code, out, _ = plain.run("m001", "echo plain")
    assert (code, out) == (0, "plain\n")
    assert [r.command for r in plain.machine("m001").command_log()] == ["echo plain"]
    r = httpx.put(f"{plain.control_url}/machines/m001/faults/disk_full", json={})
    assert r.status_code == 400 and "namespaces" in r.json()["detail"]


def test_namespace_probe_names_the_reason(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert namespaces_usable() == (False, "not running as root")


def test_cli_up_detached_status_fault_down(tmp_path):
    lease = lease_free_range()
    port = free_port()
    lab = [sys.executable, "-m", "autorke_lab"]
    state = ["--state-dir", str(tmp_path / "lab")]
    try:
        up = subprocess.run([*lab, "up", "--detach", "-n", "2", "--cmdb-size", "10", "--only", "machines,cmdb",
                             "--address-base", lease.base, "--cmdb-port", str(port), *state],
                            capture_output=True, text=True, timeout=60, check=False)
        assert up.returncode == 0, up.stderr
        assert "m002" in up.stdout
        status = json.loads(subprocess.run([*lab, "status", "--json", *state], capture_output=True, check=False,
                                           text=True, timeout=30).stdout)
        assert [m["name"] for m in status["machines"]] == ["m001", "m002"]
        assert {"address", "port", "host_key", "command_log"} <= set(status["machines"][0])
        assert status["cmdb_url"] == f"http://127.0.0.1:{port}"
        assert status["ssh"]["user"] == "root" and status["ssh"]["private_key"].endswith("id_ed25519")
        fault = subprocess.run([*lab, "fault", "m001", "command_fails", "--exit-code", "3", *state],
                               capture_output=True, text=True, timeout=30, check=False)
        assert fault.returncode == 0 and "command_fails" in fault.stdout
        live = json.loads(subprocess.run([*lab, "status", "--json", *state], capture_output=True, check=False,
                                         text=True, timeout=30).stdout)
        assert live["machines"][0]["faults"] == {"command_fails": "3 simulated failure"}
    finally:
        down = subprocess.run([*lab, "down", *state], capture_output=True, text=True, timeout=90, check=False)
        lease.release()
    assert down.returncode == 0, down.stderr
    gone = subprocess.run([*lab, "status", "--json", *state], capture_output=True, text=True,
                          check=False)
    assert gone.returncode == 1 and json.loads(gone.stdout) == {"running": False}
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path / "lab")], capture_output=True, text=True, check=False)
    assert leftovers.stdout == ""
