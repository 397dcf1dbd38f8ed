"""``autorke lab up`` (the real command) brings the lab clusters up by itself,
``lab status --json`` shows them, and ``lab down`` leaves no process behind: no machine
process, and none of the clusters' kubelets (checked with ``ps`` by the PIDs the
machines' systemctl recorded, mapped from each machine's own PID namespace to the host's).
A second ``lab up`` on the same state directory (what ``autorke up`` does every time) first
cleans what the first one left on the machines, then builds the clusters again against the
new APIs."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from autorke_lab.machines.addresses import free_port, lease_free_range
from autorke_lab.machines.namespaces import host_pids, mount_ns_of


def unit_pids(status: dict) -> list[int]:
    """Host PIDs of the units the machines' systemctl recorded: each machine writes its own
    numbers (its PID namespace), mapped here through the machine's processes' NSpid."""
    out = []
    for m in status["machines"]:
        files = sorted(Path(m["state_dir"]).glob("ov/var.u/lib/autorke-lab/units/*.service.pid"))
        if files:
            mapping = host_pids(mount_ns_of(m["pid"]))
            out += [mapping[int(p.read_text())] for p in files]
    return out


def running(pids: list[int]) -> str:
    return subprocess.run(["ps", "-o", "pid=,args=", "-p", ",".join(map(str, pids))],
                          capture_output=True, text=True, check=False).stdout.strip()


def still_running(pids: list[int], timeout: float = 15.0) -> str:
    """What ``ps`` shows of ``pids`` once they had ``timeout`` s to die (SIGKILLed by the
    lab: on a loaded machine the kernel may take a moment to finish them off)."""
    deadline = time.monotonic() + timeout
    while (left := running(pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def lab_up(lab: list[str], state: list[str], lease, port: int, log: Path) -> subprocess.Popen:
    """The lab in the foreground as our own child (so a failed test still ends it by PID),
    once its status says ready."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*lab, "up", "--foreground", "-n", "5", "--cmdb-size", "10", "--only",
             "machines,cmdb,kube,clusters", "--address-base", lease.base, "--cmdb-port", str(port),
             "--set", "kube.base_port=0", "--set", "clusters.rke1_machines=1",
             "--set", "clusters.rke2_machines=2", *state],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600  # generous: other test sessions may load the host
    while time.monotonic() < deadline and proc.poll() is None:
        if lab_status(lab, state).get("ready"):
            return proc
        time.sleep(0.5)
    raise AssertionError(f"lab did not become ready: {log.read_text()[-2000:]}")


def lab_status(lab: list[str], state: list[str]) -> dict:
    return json.loads(subprocess.run([*lab, "status", "--json", *state], capture_output=True,
                                     text=True, timeout=60, check=False).stdout or "{}")


def lab_down(lab: list[str], state: list[str]) -> None:
    """``lab down`` sends SIGTERM and waits 60 s; on a host loaded by other test sessions the
    lab may need longer to stop, so the test then waits for the process itself."""
    subprocess.run([*lab, "down", *state], capture_output=True, text=True, timeout=120,
                   check=False)


def end(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()  # SIGTERM: the lab stops everything of its own on the way out
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_lab_up_builds_clusters_and_lab_down_leaves_nothing(tmp_path):
    lease = lease_free_range()
    lab = [sys.executable, "-m", "autorke_lab"]
    state_dir = tmp_path / "lab"
    state = ["--state-dir", str(state_dir)]
    port = free_port()
    pids: list[int] = []
    proc = None
    try:
        for attempt in (1, 2):
            proc = lab_up(lab, state, lease, port, tmp_path / f"lab{attempt}.log")
            status = lab_status(lab, state)
            component = status["components"]["clusters"]
            clusters = {c["name"]: c for c in component["clusters"]}
            assert {n: c["ready"] for n, c in clusters.items()} == {"rke1-lab": True,
                                                                    "rke2-lab": True}, clusters
            assert [n["roles"] for n in clusters["rke1-lab"]["nodes"]] == [
                ["controlplane", "etcd", "worker"]]
            assert [n["rke2_type"] for n in clusters["rke2-lab"]["nodes"]] == ["server", "agent"]
            assert component["free_machines"] == ["m004", "m005"]
            assert component["wiped_leftovers_on"] == ([] if attempt == 1 else
                                                       ["m001", "m002", "m003"])
            pids = unit_pids(status)
            assert len(pids) == 3 and running(pids).count("autorke_lab.kube.kubelet") == 3
            lab_down(lab, state)
            assert proc.wait(timeout=300) == 0
            assert still_running(pids) == ""
    finally:
        end(proc)
        lease.release()
    leftovers = subprocess.run(["pgrep", "-f", str(state_dir)], capture_output=True, text=True,
                               check=False)
    assert leftovers.stdout == ""
