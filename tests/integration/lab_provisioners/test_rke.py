"""The rke stand-in, run as the real executable against real lab machines over SSH and a
lab Kubernetes API: it builds a cluster from cluster.yml, refuses invalid ones like RKE,
and — like the real rke — ``up --update-only`` still touches every node (DESIGN P5)."""
from __future__ import annotations

import json
import stat
import subprocess

import pytest
import yaml
from kubernetes import client, config

from autorke_lab.provisioners.rke import rke_path

ROLES = [["etcd", "controlplane"], ["etcd", "worker"], ["etcd", "worker"]]


def cluster_yml(tmp_path, fleet, known_hosts, kube, roles=ROLES, **overrides) -> dict:
    key = fleet.ssh["private_key"]
    nodes = [
        {"address": m.spec.address, "port": m.spec.port, "user": "root", "role": r,
         "hostname_override": m.name, "ssh_key_path": key}
        for m, r in zip(fleet.machines, roles, strict=False)
    ]
    doc = {"cluster_name": "rke-lab", "nodes": nodes,
           "x_autorke_lab": {"kubeconfig": str(kube.kubeconfig_path),
                             "known_hosts": str(known_hosts)}}
    doc.update(overrides)
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(doc))
    return doc


def rke(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(rke_path()), *args, "--config", str(tmp_path / "cluster.yml")],
                          check=False, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


@pytest.mark.parametrize(
    "roles,message",
    [
        ([["etcd", "controlplane"], ["etcd", "worker"], ["worker"]], "odd number of etcd"),
        ([["controlplane", "worker"], ["worker"]], "at least one etcd plane host"),
        ([["etcd", "controlplane"], ["master"]], "Role [master] for host (2) is not recognized"),
        ([["etcd", "controlplane"], []], "Role for host (2) is not provided"),
    ],
)
def test_invalid_cluster_yml_is_refused(tmp_path, fleet, known_hosts, lab_kube, roles, message):
    cluster_yml(tmp_path, fleet, known_hosts, lab_kube, roles=roles)
    result = rke(tmp_path, "up")
    assert result.returncode == 1
    assert "FATA[" in result.stdout and message in result.stdout
    assert not (tmp_path / "cluster.rkestate").exists()


def test_duplicate_address_is_refused(tmp_path, fleet, known_hosts, lab_kube):
    doc = cluster_yml(tmp_path, fleet, known_hosts, lab_kube)
    doc["nodes"][2]["address"] = doc["nodes"][1]["address"]
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(doc))
    result = rke(tmp_path, "up")
    assert result.returncode == 1
    assert f"Cluster can't have duplicate node: {doc['nodes'][1]['address']}" in result.stdout


def test_up_then_update_only_touches_every_node(tmp_path, fleet, known_hosts, lab_kube_factory):
    kube = lab_kube_factory(seed_workloads=False)
    cluster_yml(tmp_path, fleet, known_hosts, kube)
    nodes = fleet.machines[:3]
    for m in fleet.machines:
        m.clear_command_log()

    result = rke(tmp_path, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Finished building Kubernetes cluster successfully" in result.stdout

    state_path = tmp_path / "cluster.rkestate"
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    bundle = json.loads(state_path.read_text())["currentState"]["certificatesBundle"]
    assert {"kube-ca", "kube-apiserver", "kube-node"} <= set(bundle)
    assert "BEGIN PRIVATE KEY" not in result.stdout  # the state is never printed

    api = config.new_client_from_config(str(tmp_path / "kube_config_cluster.yml"))
    v1 = client.CoreV1Api(api)
    listed = {n.metadata.name: n for n in v1.list_node().items}
    assert set(listed) == {m.name for m in nodes}
    assert all(c.status == "True" for n in listed.values() for c in n.status.conditions
               if c.type == "Ready")
    etcd_nodes = v1.list_node(label_selector="node-role.kubernetes.io/etcd=true").items
    assert len(etcd_nodes) == 3
    first_log = {m.name: [r.command for r in m.command_log()] for m in nodes}
    assert any("docker run -d --name kube-apiserver" in c for c in first_log[nodes[0].name])
    assert not fleet.machines[3].command_log()  # not in cluster.yml: never touched

    # A worker cordoned for maintenance, then a worker-only change with --update-only.
    v1.patch_node(nodes[2].name, {"spec": {"unschedulable": True}})
    for m in fleet.machines:
        m.clear_command_log()
    result = rke(tmp_path, "up", "--update-only")
    assert result.returncode == 0, result.stdout + result.stderr

    for m in nodes:  # every node was dialled and got its certificates again
        commands = [r.command for r in m.command_log()]
        assert commands, f"{m.name} was not touched"
        assert "docker version" in commands
        assert any(c.startswith("tar -xf - -C /") for c in commands)
        assert not any("--name etcd " in c or "--name kube-apiserver" in c for c in commands)
    # ... and, like the real rke, it uncordoned the worker cordoned for maintenance.
    assert not v1.read_node(nodes[2].name).spec.unschedulable

    result = rke(tmp_path, "remove", "--force")
    assert result.returncode == 0, result.stdout + result.stderr
    assert v1.list_node().items == []
    assert not state_path.exists()
    api.close()


def test_up_removes_a_node_dropped_from_cluster_yml(tmp_path, fleet, known_hosts, lab_kube_factory):
    """As real rke reconciles (``reconcileWorker``): a node in the state file but no longer
    in cluster.yml is deleted from Kubernetes and its host cleaned, also with --update-only."""
    kube = lab_kube_factory(seed_workloads=False)
    roles = [["etcd", "controlplane"], ["worker"], ["worker"]]
    doc = cluster_yml(tmp_path, fleet, known_hosts, kube, roles=roles)
    result = rke(tmp_path, "up")
    assert result.returncode == 0, result.stdout + result.stderr
    gone = fleet.machines[2]
    assert gone.exec_in(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()

    doc["nodes"] = doc["nodes"][:2]
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(doc))
    gone.clear_command_log()
    result = rke(tmp_path, "up", "--update-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Deleting host [{gone.spec.address}] from the cluster" in result.stdout

    api = config.new_client_from_config(str(tmp_path / "kube_config_cluster.yml"))
    v1 = client.CoreV1Api(api)
    assert {n.metadata.name for n in v1.list_node().items} == {m.name for m in fleet.machines[:2]}
    assert gone.command_log(), "the removed host was dialled to be cleaned"
    assert gone.exec_in(["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split() == []
    assert gone.exec_in(["ls", "-d", "/etc/kubernetes"], check=False).returncode != 0
    state = json.loads((tmp_path / "cluster.rkestate").read_text())
    assert [n["hostname_override"] for n in state["currentState"]["rkeConfig"]["nodes"]] == \
        [m.name for m in fleet.machines[:2]]
    assert rke(tmp_path, "remove", "--force").returncode == 0
    api.close()
