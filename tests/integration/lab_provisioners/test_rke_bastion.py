"""The rke stand-in with ``bastion_host`` in cluster.yml, against the lab's bastion01 and
the machines only it can reach (inner001, inner002, each in its own network namespace):
it reaches every node through the bastion (the nodes' command logs show the bastion's
inner address as the client), verifies the inner nodes' host keys, and runs nothing on the
bastion itself. ``up`` is not used here: the inner machines' simulated kubelets could not
reach a lab API on the host, so ``etcd snapshot-save`` and ``remove`` (which dial and work
on every node but wait for no kubelet) prove the path."""
from __future__ import annotations

import subprocess

import pytest
import yaml

from autorke_lab.machines.network import BASTION_INNER_IP
from autorke_lab.provisioners.rke import rke_path

INNER = ("inner001", "inner002")
SNAPSHOT = "/opt/rke/etcd-snapshots/via-bastion.zip"


def host(machine: dict) -> str:
    """A machine as known_hosts names it."""
    if machine["port"] == 22:
        return machine["address"]
    return f"[{machine['address']}]:{machine['port']}"


@pytest.fixture
def through_bastion(lab, lab_kube_factory, tmp_path):
    bastion = lab.status["bastion"]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("".join(
        f"{host(m)} {m['host_key']}\n" for m in lab.machines if m["name"] in (*INNER, bastion["name"])))
    kube = lab_kube_factory(seed_workloads=False)
    nodes = [{"address": lab.info(name)["address"], "port": lab.info(name)["port"], "user": "root",
              "role": role, "hostname_override": name}
             for name, role in zip(INNER, (["etcd", "controlplane"], ["worker"]), strict=True)]
    doc = {"cluster_name": "behind-bastion", "ssh_key_path": str(lab.private_key), "nodes": nodes,
           "bastion_host": {"address": bastion["address"], "port": bastion["port"], "user": "root",
                            "ssh_key_path": str(lab.private_key)},
           "x_autorke_lab": {"kubeconfig": str(kube.kubeconfig_path),
                             "known_hosts": str(known_hosts)}}
    (tmp_path / "cluster.yml").write_text(yaml.safe_dump(doc))
    for name in (*INNER, bastion["name"]):
        lab.reset(name)
    yield bastion["name"]
    for name in (*INNER, bastion["name"]):
        lab.reset(name)


def rke(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(rke_path()), *args, "--config", str(tmp_path / "cluster.yml")],
                          check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_rke_reaches_inner_nodes_through_the_bastion(lab, through_bastion, tmp_path):
    save = rke(tmp_path, "etcd", "snapshot-save", "--name", "via-bastion")
    assert save.returncode == 0, save.stdout + save.stderr
    for name in INNER:
        log = lab.machine(name).command_log()
        assert log and {r.client for r in log} == {BASTION_INNER_IP}, name
        assert "docker version" in [r.command for r in log]
    assert lab.run("inner001", f"test -s {SNAPSHOT}")[0] == 0
    assert lab.run("inner002", f"test -e {SNAPSHOT}")[0] != 0  # a worker keeps no snapshot

    removed = rke(tmp_path, "remove", "--force")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert lab.run("inner001", f"test -e {SNAPSHOT}")[0] != 0  # remove deletes snapshots too
    assert not lab.machine(through_bastion).command_log()  # only a jump host: no command


def test_an_unknown_inner_host_key_is_refused(lab, through_bastion, tmp_path):
    known = (tmp_path / "known_hosts").read_text().splitlines()
    inner2 = lab.info("inner002")["address"]
    (tmp_path / "known_hosts").write_text("\n".join(
        line for line in known if not line.startswith(inner2 + " ")) + "\n")
    result = rke(tmp_path, "etcd", "snapshot-save", "--name", "x")
    assert result.returncode == 1
    assert f"Failed to set up SSH tunneling for host [{inner2}]" in result.stdout
