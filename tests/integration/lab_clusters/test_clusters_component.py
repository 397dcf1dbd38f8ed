"""The lab clusters component: at lab start, an RKE1 cluster (built by the rke stand-in from
a cluster.yml) and an RKE2 cluster (servers and agents joined node by node) on real lab
machines, every node Ready through the official client, the rest of the machines free;
the status names files, never secrets; at lab down nothing of theirs keeps running."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import yaml
from kubernetes import client, config

from autorke_lab.clusters import ClustersComponent
from autorke_lab.cmdb.component import CmdbComponent
from autorke_lab.kube.component import KubeComponent
from autorke_lab.machines.component import MachinesComponent
from autorke_lab.machines.namespaces import processes_by_mount_ns

OPTIONS = {"kube.base_port": "0", "kube.workloads": "true"}


def components() -> list:
    return [MachinesComponent(), CmdbComponent(), KubeComponent(), ClustersComponent()]


def ready_nodes(kubeconfig: Path) -> dict[str, dict[str, str]]:
    api = config.new_client_from_config_dict(yaml.safe_load(kubeconfig.read_text()))
    try:
        return {n.metadata.name: n.metadata.labels for n in client.CoreV1Api(api).list_node().items
                if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)}
    finally:
        api.close()


def test_lab_start_builds_both_clusters_and_lab_down_ends_their_processes(lab_factory):
    running = lab_factory(machines=14, cmdb_size=20, components=components(), options=OPTIONS)
    status = running.lab.status()
    state = status["components"]["clusters"]
    clusters = {c["name"]: c for c in state["clusters"]}
    assert set(clusters) == {"rke1-lab", "rke2-lab"}
    assert all(c["ready"] for c in clusters.values()), clusters
    assert state["free_machines"] == ["m013", "m014"]

    rke1, rke2 = clusters["rke1-lab"], clusters["rke2-lab"]
    assert [n["machine"] for n in rke1["nodes"]] == [f"m{i:03d}" for i in range(1, 7)]
    assert [n["roles"] for n in rke1["nodes"]] == [["controlplane", "etcd"]] * 3 + [["worker"]] * 3
    assert [n["machine"] for n in rke2["nodes"]] == [f"m{i:03d}" for i in range(7, 13)]
    assert [n["rke2_type"] for n in rke2["nodes"]] == ["server"] * 3 + ["agent"] * 3

    # RKE1: cluster.yml, the secret state and the kubeconfig kept in the lab state dir.
    for key in ("cluster_yml", "rkestate", "kubeconfig"):
        assert Path(rke1[key]).is_relative_to(running.lab.state_dir / "clusters" / "rke1-lab")
    assert stat.S_IMODE(Path(rke1["rkestate"]).stat().st_mode) == 0o600
    doc = yaml.safe_load(Path(rke1["cluster_yml"]).read_text())
    assert [n["hostname_override"] for n in doc["nodes"]] == [n["machine"] for n in rke1["nodes"]]
    nodes = ready_nodes(Path(rke1["kubeconfig"]))
    assert set(nodes) == {n["machine"] for n in rke1["nodes"]}
    assert nodes["m001"]["node-role.kubernetes.io/etcd"] == "true"
    assert nodes["m004"]["node-role.kubernetes.io/worker"] == "true"

    # How the platform's executor adds nodes to them (autorke up passes these on): the rke
    # stand-in and the RKE2 installer pointed at these clusters' CA files.
    provisioners = state["provisioners"]
    # the rke stand-in behind the lab's wrapper, which names each RKE1 cluster's lab files
    # and SSH key (the platform's cluster.yml names none: options may not, H1)
    wrapper = Path(provisioners["rke_binary"])
    assert wrapper.exists() and os.access(wrapper, os.X_OK) and "autorke-lab-rke" in wrapper.read_text()
    files = json.loads((wrapper.parent / "lab-rke.json").read_text())["clusters"]
    assert set(files) == {"rke1-lab"} and Path(files["rke1-lab"]["kubeconfig"]).exists()
    install = provisioners["rke2_install_command"]
    assert "autorke_lab.provisioners.rke2.install" in install
    assert f"AUTORKE_LAB_KUBE_DIR={running.lab.state_dir / 'kube'}" in install

    # RKE2: the join token is a 0600 file, never a value in the status.
    token_file = Path(rke2["join_token_file"])
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("K10") and token not in json.dumps(status)
    assert rke2["server_url"] == rke2["api_url"]
    nodes = ready_nodes(Path(rke2["kubeconfig"]))
    assert set(nodes) == {n["machine"] for n in rke2["nodes"]}
    assert "node-role.kubernetes.io/control-plane" in nodes["m007"]
    assert "node-role.kubernetes.io/control-plane" not in nodes["m010"]
    code, out, _ = running.run("m007", "stat -c %a /var/lib/rancher/rke2/server/node-token")
    assert (code, out.strip()) == (0, "600")

    # The simulated kubelets are processes of the machines (their systemctl units) ...
    units = [u for name in [f"m{i:03d}" for i in range(1, 13)]
             for u in running.machine(name).units() if u["active"]]
    assert len(units) == 12
    assert not running.machine("m013").units()

    # ... and lab down ends them with everything else of the machines. Checked by PID and
    # start time: a mount namespace's inode number is reused by the next one created (other
    # labs run beside this test), so "processes in those namespaces" afterwards proves nothing.
    namespaces = {m.mount_ns for m in running.fleet.machines}
    before = {pid: started_at(pid) for ns, pids in processes_by_mount_ns().items()
              if ns in namespaces for pid in pids}
    assert {u["pid"] for u in units} <= set(before)
    running.lab.stop()
    deadline = time.monotonic() + 15  # SIGKILLed; a loaded machine may take a moment
    while (left := [p for p, t in before.items() if started_at(p) == t]) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "processes of the lab machines left:\n" + subprocess.run(
        ["ps", "-o", "pid,ppid,stat,etimes,args", "-p", ",".join(map(str, left))],
        capture_output=True, text=True, check=False).stdout


def started_at(pid: int) -> str | None:
    """A live process's start time (field 22 of /proc/PID/stat); None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]
