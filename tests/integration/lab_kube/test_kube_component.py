"""The kube component inside the lab runtime: clusters from ``--set kube.clusters=``, their
files in the state directory, and a cluster started on demand through the control API."""
from __future__ import annotations

import socket
from pathlib import Path

import httpx
import yaml
from kubernetes import client, config

from autorke_lab.kube.component import KubeComponent
from autorke_lab.runtime import Lab, LabConfig


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_component_serves_clusters_and_starts_new_ones(tmp_path):
    lab = Lab(LabConfig(cmdb_port=_free_port(), state_dir=tmp_path,
                        options={"kube.clusters": "rke2-x,rke1-y", "kube.base_port": "0",
                                 "kube.workloads": "false"}),
              components=[KubeComponent()])
    lab.start()
    try:
        clusters = lab.status()["components"]["kube"]["clusters"]
        assert [c["name"] for c in clusters] == ["rke2-x", "rke1-y"]
        for entry in clusters:
            assert Path(entry["kubeconfig"]).parent == tmp_path / "kube" / entry["name"]
            assert "token" not in entry
        answer = httpx.post(f"{lab.status()['control_url']}/kube/clusters", json={"name": "c9"})
        assert answer.status_code == 200
        kubeconfig = yaml.safe_load(Path(answer.json()["kubeconfig"]).read_text())
        api = config.new_client_from_config_dict(kubeconfig)
        assert client.CoreV1Api(api).list_namespace().items
        api.close()
        listed = httpx.get(f"{lab.status()['control_url']}/kube/clusters").json()
        assert [c["name"] for c in listed["clusters"]] == ["rke2-x", "rke1-y", "c9"]
    finally:
        lab.stop()
