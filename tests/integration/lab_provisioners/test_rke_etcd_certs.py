"""The rke stand-in's etcd and certificate commands on real lab machines, as the real rke
behaves: ``etcd snapshot-save`` stores the snapshot on the etcd hosts only;
``etcd snapshot-restore`` — the behaviour DESIGN P6 exists for — cleans EVERY node,
workers included, and rebuilds the cluster (the command logs show each node's cleanup);
``cert rotate`` issues new certificates (keeping the CA unless ``--rotate-ca``), deploys
them to every node and restarts the components."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from kubernetes import client, config

from autorke_lab.provisioners.rke import rke_path

ROLES = [["etcd", "controlplane"], ["worker"], ["worker"]]
CLEANUP = "rm -rf /etc/kubernetes /var/lib/etcd"


def write_cluster_yml(tmp_path, fleet, known_hosts, kube) -> None:
    nodes = [{"address": m.spec.address, "port": m.spec.port, "user": "root", "role": r,
              "hostname_override": m.name, "ssh_key_path": fleet.ssh["private_key"]}
             for m, r in zip(fleet.machines, ROLES, strict=False)]
    doc = {"cluster_name": "rke-etcd", "nodes": nodes,
           "x_autorke_lab": {"kubeconfig": str(kube.kubeconfig_path),
                             "known_hosts": str(known_hosts)}}
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(doc))


def rke(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(rke_path()), *args, "--config", str(tmp_path / "cluster.yml")],
                          check=False, capture_output=True, text=True, timeout=180, cwd=tmp_path)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def commands(machine) -> list[str]:
    return [r.command for r in machine.command_log()]


def on_node(fleet, machine, path: str) -> str:
    """A file's content on a node, read inside the machine (its own /etc)."""
    return machine.exec_in(["cat", path], check=False).stdout


@pytest.fixture
def cluster(tmp_path, fleet, known_hosts, lab_kube_factory):
    kube = lab_kube_factory(seed_workloads=False)
    write_cluster_yml(tmp_path, fleet, known_hosts, kube)
    ok(rke(tmp_path, "up"))
    api = config.new_client_from_config(str(tmp_path / "kube_config_cluster.yml"))
    yield client.CoreV1Api(api)
    rke(tmp_path, "remove", "--force")
    api.close()


def ready(v1) -> set[str]:
    return {n.metadata.name for n in v1.list_node().items
            if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)}


def test_snapshot_save_then_restore_cleans_every_node(tmp_path, fleet, cluster):
    etcd, workers = fleet.machines[0], fleet.machines[1:3]
    out = ok(rke(tmp_path, "etcd", "snapshot-save", "--name", "before-change"))
    assert "Finished saving/uploading snapshot [before-change]" in out
    snapshot = "/opt/rke/etcd-snapshots/before-change.zip"
    assert etcd.exec_in(["test", "-s", snapshot], check=False).returncode == 0
    assert all(w.exec_in(["test", "-e", snapshot], check=False).returncode != 0 for w in workers)

    for m in fleet.machines:
        m.clear_command_log()
    out = ok(rke(tmp_path, "etcd", "snapshot-restore", "--name", "before-change"))
    assert "cleaning up every node of the cluster" in out
    for m in (etcd, *workers):  # like the real rke: every node is wiped, then rebuilt
        log = commands(m)
        assert any(c.startswith("docker rm -f") for c in log), f"{m.name} not cleaned: {log}"
        assert any(c.startswith(CLEANUP) for c in log), f"{m.name} state not removed"
        cleaned = next(i for i, c in enumerate(log) if c.startswith(CLEANUP))
        assert any("docker run -d --name kubelet" in c for c in log[cleaned:]), m.name
    assert any("--name etcd " in c for c in commands(etcd))
    assert not commands(fleet.machines[3])  # not in cluster.yml
    assert etcd.exec_in(["test", "-s", snapshot], check=False).returncode == 0  # kept
    assert ready(cluster) == {m.name for m in fleet.machines[:3]}


def test_restore_refuses_a_missing_snapshot_and_a_zip_name(tmp_path, fleet, cluster):
    for m in fleet.machines:
        m.clear_command_log()
    missing = rke(tmp_path, "etcd", "snapshot-restore", "--name", "no-such-snapshot")
    assert missing.returncode == 1 and "failed to find snapshot [no-such-snapshot]" in missing.stdout
    assert not any(c.startswith("docker rm") for m in fleet.machines for c in commands(m))
    zipped = rke(tmp_path, "etcd", "snapshot-restore", "--name", "x.zip")
    assert zipped.returncode == 1 and "must not include the .zip" in zipped.stdout


def bundle(tmp_path) -> dict:
    return json.loads((tmp_path / "cluster.rkestate").read_text())["currentState"]["certificatesBundle"]


def test_cert_rotate_deploys_new_certificates_and_restarts_components(tmp_path, fleet, cluster):
    cp = fleet.machines[0]
    before = bundle(tmp_path)
    for m in fleet.machines:
        m.clear_command_log()
    out = ok(rke(tmp_path, "cert", "rotate"))
    assert "BEGIN" not in out  # no certificate or key printed
    after = bundle(tmp_path)
    assert after["kube-ca"]["certificatePEM"] == before["kube-ca"]["certificatePEM"]
    assert after["kube-apiserver"]["certificatePEM"] != before["kube-apiserver"]["certificatePEM"]
    assert on_node(fleet, cp, "/etc/kubernetes/ssl/kube-apiserver.pem") == \
        after["kube-apiserver"]["certificatePEM"]
    for m in fleet.machines[:3]:
        log = commands(m)
        assert any(c.startswith("docker restart") and "kubelet" in c for c in log), m.name
        assert "systemctl restart autorke-lab-kubelet" in log, m.name
    assert any("kube-apiserver" in c for c in commands(cp) if c.startswith("docker restart"))
    assert ready(cluster) == {m.name for m in fleet.machines[:3]}

    for m in fleet.machines:
        m.clear_command_log()
    ok(rke(tmp_path, "cert", "rotate", "--service", "kube-apiserver"))
    restarts = [c for c in commands(cp) if c.startswith("docker restart")]
    assert restarts == ["docker restart kube-apiserver"]
    assert not [c for m in fleet.machines[1:3] for c in commands(m) if c.startswith("docker restart")]

    ok(rke(tmp_path, "cert", "rotate", "--rotate-ca"))
    assert bundle(tmp_path)["kube-ca"]["certificatePEM"] != before["kube-ca"]["certificatePEM"]
    assert on_node(fleet, fleet.machines[2], "/etc/kubernetes/ssl/kube-ca.pem") == \
        bundle(tmp_path)["kube-ca"]["certificatePEM"]
    assert ready(cluster) == {m.name for m in fleet.machines[:3]}
