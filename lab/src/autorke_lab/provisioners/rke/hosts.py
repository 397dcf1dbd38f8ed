"""What the rke stand-in does on one node over SSH: deploy certificates, run the planes'
containers, start the simulated kubelet, clean the node, keep etcd snapshots.

Each step is a few commands, logged by the machine exactly as real RKE's would be (a
docker check, the certificate deploy, container runs), so a machine's command log shows
which hosts a run touched. Certificates and kubeconfigs go in as a tar stream on stdin.
"""
from __future__ import annotations

import io
import tarfile
import time

import yaml

from . import components as comp
from .config import Node
from .kubeapi import LabAPI
from .ssh import NodeSession

CERTS_BY_ROLE = {
    "all": ("kube-ca", "kube-node", "kube-proxy"),
    "controlplane": ("kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "kube-admin", "kube-apiserver-proxy-client"),
}


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, (data, mode) in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def check_docker(session: NodeSession) -> str:
    return session.run(["docker", "version"]).stdout.strip()


def deploy_certificates(session: NodeSession, node: Node, bundle: dict, api: LabAPI) -> None:
    """RKE's cert-deployer: the node's certificates and component kubeconfigs."""
    names = list(CERTS_BY_ROLE["all"])
    if "controlplane" in node.roles:
        names += CERTS_BY_ROLE["controlplane"]
    if "etcd" in node.roles or "controlplane" in node.roles:
        names += [n for n in bundle if n.startswith("kube-etcd-")]
    files: dict[str, tuple[bytes, int]] = {}
    for name in names:
        entry = bundle[name]
        files[entry["path"]] = (entry["certificatePEM"].encode(), 0o644)
        files[entry["keyPath"]] = (entry["keyPEM"].encode(), 0o600)
    node_cfg = yaml.safe_dump(api.kubeconfig("local", "system:node:" + node.hostname))
    files[comp.NODE_KUBECONFIG] = (node_cfg.encode(), 0o600)
    session.run(["mkdir", "-p", "/etc/kubernetes/ssl"])
    session.run(["tar", "-xf", "-", "-C", "/"], stdin=_tar(files))


def containers(session: NodeSession) -> dict[str, bool]:
    """Name → running, for every container on the node."""
    out = session.run(["docker", "ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout
    found = {}
    for line in out.splitlines():
        name, _, state = line.partition(" ")
        if name:
            found[name] = state.strip() == "running"
    return found


def run_containers(session: NodeSession, node: Node, names: tuple[str, ...], version: str,
                   present: dict[str, bool]) -> None:
    for name in names:
        if name not in present:
            session.run(comp.docker_run(name, node, version))
        elif not present[name]:
            session.run(["docker", "start", name])


def start_kubelet(session: NodeSession, node: Node, python: tuple[str, dict[str, str]],
                  version: str, restart: bool = False) -> None:
    unit = comp.kubelet_unit(node, python[0], python[1], version).encode()
    current = session.run(["cat", comp.KUBELET_UNIT_PATH], check=False).stdout.encode()
    if current != unit:
        session.run(["tar", "-xf", "-", "-C", "/"],
                    stdin=_tar({comp.KUBELET_UNIT_PATH: (unit, 0o644)}))
        session.run(["systemctl", "daemon-reload"])
        restart = True
    session.run(["systemctl", "enable", comp.KUBELET_UNIT])
    session.run(["systemctl", "restart" if restart else "start", comp.KUBELET_UNIT])


def restart_components(session: NodeSession, names: list[str]) -> None:
    if names:
        session.run(["docker", "restart", *names])


def clean(session: NodeSession, keep_snapshots: bool) -> None:
    """RKE's host cleanup: remove every component container, the kubelet and state dirs."""
    session.run(["systemctl", "disable", "--now", comp.KUBELET_UNIT], check=False)
    session.run(["rm", "-f", comp.KUBELET_UNIT_PATH])
    present = containers(session)
    names = [n for n in comp.ALL if n in present]
    if names:
        session.run(["docker", "rm", "-f", *names])
    dirs = list(comp.STATE_DIRS)
    if not keep_snapshots:
        dirs.append(comp.SNAPSHOT_DIR)
    session.run(["rm", "-rf", *dirs])


def save_snapshot(session: NodeSession, name: str, payload: bytes) -> None:
    path = f"{comp.SNAPSHOT_DIR}/{name}.zip"
    session.run(["mkdir", "-p", comp.SNAPSHOT_DIR])
    session.run(["tar", "-xf", "-", "-C", "/"], stdin=_tar({path: (payload, 0o600)}))


def has_snapshot(session: NodeSession, name: str) -> bool:
    return session.run(["test", "-s", f"{comp.SNAPSHOT_DIR}/{name}.zip"], check=False).rc == 0
