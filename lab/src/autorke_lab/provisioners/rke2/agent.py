"""``rke2 agent`` on a lab machine: read the RKE2 config, resolve the join token to a lab
cluster, and run the simulated kubelet against its API server (in place of the real
agent's containerd + kubelet).

Config: ``/etc/rancher/rke2/config.yaml`` then ``config.yaml.d/*.yaml`` in order (later
keys win, lists too), keys ``server`` (the cluster's API URL in the lab), ``token``,
``node-name`` (default: the hostname), ``node-label`` and ``node-taint`` (lists, applied at
registration only), ``node-ip``. The token's CA hash picks the CA among
``$AUTORKE_LAB_KUBE_DIR/*/ca.crt``; a token matching no lab cluster, or a server that does
not accept it, keeps the agent retrying, as a real agent does.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import sys
import time
from pathlib import Path

import yaml

from .token import parse

CONFIG = Path("/etc/rancher/rke2/config.yaml")
KUBECONFIG = Path("/var/lib/rancher/rke2/agent/kubelet.kubeconfig")
KUBELET_VERSION = "v1.30.4+rke2r1"


def read_config() -> dict:
    config: dict = {}
    files = [CONFIG, *sorted(CONFIG.with_suffix(".yaml.d").glob("*.yaml"))]
    for path in files:
        if path.exists():
            config.update(yaml.safe_load(path.read_text()) or {})
    return config


def find_ca(ca_hash: str, kube_dir: Path) -> bytes | None:
    for ca in sorted(kube_dir.glob("*/ca.crt")):
        data = ca.read_bytes()
        if hashlib.sha256(data).hexdigest() == ca_hash:
            return data
    return None


def _list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def kubelet_argv(config: dict, kubeconfig: Path, heartbeat: str) -> list[str]:
    name = config.get("node-name") or socket.gethostname()
    address = config.get("node-ip")
    if not address:
        try:
            address = socket.gethostbyname(socket.gethostname())
        except OSError:
            address = "127.0.0.1"
    labels = ["node-role.kubernetes.io/worker=true", *_list(config.get("node-label"))]
    return [
        sys.executable, "-m", "autorke_lab.kube.kubelet",
        "--kubeconfig", str(kubeconfig), "--node-name", str(name), "--address", str(address),
        "--labels", ",".join(labels), "--taints", ",".join(_list(config.get("node-taint"))),
        "--kubelet-version", KUBELET_VERSION, "--heartbeat-interval", heartbeat,
    ]


def write_kubeconfig(server: str, ca_pem: bytes, token: str) -> None:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "agent",
        "clusters": [{"name": "rke2", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "rke2", "user": "agent"}}],
    }
    KUBECONFIG.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(KUBECONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f)


def agent() -> int:
    config = read_config()
    if not config.get("server") or not config.get("token"):
        print("level=fatal msg=\"--server and --token are required\"", file=sys.stderr)
        return 1
    try:
        token = parse(str(config["token"]))
    except ValueError as exc:
        print(f'level=fatal msg="invalid token: {exc}"', file=sys.stderr)
        return 1
    kube_dir = Path(os.environ.get("AUTORKE_LAB_KUBE_DIR", "/nonexistent"))
    while (ca := find_ca(token.ca_hash, kube_dir)) is None:
        print('level=info msg="Waiting to retrieve agent configuration; server is not ready: '
              'CA hash of the token matches no server"', file=sys.stderr, flush=True)
        time.sleep(2)
    write_kubeconfig(str(config["server"]), ca, token.password)
    argv = kubelet_argv(config, KUBECONFIG, os.environ.get("AUTORKE_LAB_HEARTBEAT_S", "5"))
    os.execv(argv[0], argv)
    return 1  # not reached


def main() -> int:
    if sys.argv[1:2] != ["agent"]:
        print("usage: rke2 agent  (the lab stand-in runs agents only)", file=sys.stderr)
        return 1
    return agent()


if __name__ == "__main__":
    sys.exit(main())
