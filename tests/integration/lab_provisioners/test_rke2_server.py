"""The RKE2 stand-in's server mode (``INSTALL_RKE2_TYPE=server``, unit ``rke2-server``), as
the lab clusters component joins its servers: the node registers with the server role
labels and no worker label, and the machine holds the server's node-token and rke2.yaml,
both 0600, while the token never shows in the machine's command log."""
from __future__ import annotations

import time

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from autorke_lab.clusters.access import open_session
from autorke_lab.provisioners.rke2 import install_command, join_token


def wait_ready(v1, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            node = v1.read_node(name)
            if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions):
                return
        except ApiException as exc:
            if exc.status != 404:
                raise
        time.sleep(0.2)
    pytest.fail(f"{name} not Ready within {timeout} s")


def test_server_registers_with_server_roles_and_keeps_its_token(fleet, known_hosts, lab_kube_factory):
    kube = lab_kube_factory(seed_workloads=False)
    token = join_token(kube.cluster.ca_path.read_bytes(), kube.token)
    machine = fleet.machines[2]
    machine.clear_command_log()
    session = open_session(machine, fleet.lab_dir / "id_ed25519", known_hosts)
    v1 = client.CoreV1Api(kube.api_client())
    try:
        session.sh(install_command(kube.kubeconfig_path.parent.parent, 0.5, kind="server"))
        session.write_file("/etc/rancher/rke2/config.yaml", yaml.safe_dump(
            {"server": kube.url, "token": token, "node-name": machine.name}).encode(), "0600")
        session.run(["systemctl", "enable", "--now", "rke2-server"])
        wait_ready(v1, machine.name, timeout=60)
        labels = v1.read_node(machine.name).metadata.labels
        assert {"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd",
                "node-role.kubernetes.io/master"} <= set(labels)
        assert "node-role.kubernetes.io/worker" not in labels
        modes = session.run(["stat", "-c", "%a %n", "/var/lib/rancher/rke2/server/node-token",
                             "/etc/rancher/rke2/rke2.yaml"]).stdout.split("\n")
        assert [m.split()[0] for m in modes if m] == ["600", "600"]
        assert session.run(["cat", "/var/lib/rancher/rke2/server/node-token"]).stdout.strip() == token
        assert not any(token in r.command or kube.token in r.command for r in machine.command_log())

        session.run(["/usr/local/bin/rke2-uninstall.sh"])
        assert session.run(["systemctl", "is-active", "rke2-server"], check=False).rc != 0
        assert session.run(["test", "-e", "/var/lib/rancher/rke2"], check=False).rc != 0
    finally:
        session.close()
        v1.api_client.close()


def test_installer_refuses_an_unknown_type(tmp_path):
    with pytest.raises(ValueError, match="INSTALL_RKE2_TYPE"):
        install_command(tmp_path, kind="etcd-only")
