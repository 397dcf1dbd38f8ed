"""``rke2 agent`` and ``rke2 server`` on a lab machine: read the RKE2 config, resolve the
join token to a lab cluster, and run the simulated kubelet against its API server (in
place of the real agent's containerd + kubelet).

A lab server is an agent with the server's node role labels
(``node-role.kubernetes.io/control-plane``, ``etcd``, ``master``; no worker label, no
taint, as RKE2 servers register) that also writes what a real server leaves on its disk:
``/var/lib/rancher/rke2/server/node-token`` (the join token) and
``/etc/rancher/rke2/rke2.yaml`` (an admin kubeconfig), both 0600. The lab API stand-in
plays the servers' API server and supervisor, so a lab server, too, needs ``server`` (the
lab API URL) in its config, where a real first server has none.

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
NODE_TOKEN = Path("/var/lib/rancher/rke2/server/node-token")
ADMIN_KUBECONFIG = Path("/etc/rancher/rke2/rke2.yaml")
KUBELET_VERSION = "v1.30.4+rke2r1"
AGENT_LABELS = ("node-role.kubernetes.io/worker=true",)
SERVER_LABELS = ("node-role.kubernetes.io/control-plane=true", "node-role.kubernetes.io/etcd=true",
                 "node-role.kubernetes.io/master=true")


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


def kubelet_argv(config: dict, kubeconfig: Path, heartbeat: str, server: bool = False) -> list[str]:
    name = config.get("node-name") or socket.gethostname()
    address = config.get("node-ip")
    if not address:
        try:
            address = socket.gethostbyname(socket.gethostname())
        except OSError:
            address = "127.0.0.1"
    labels = [*(SERVER_LABELS if server else AGENT_LABELS), *_list(config.get("node-label"))]
    return [
        sys.executable, "-m", "autorke_lab.kube.kubelet",
        "--kubeconfig", str(kubeconfig), "--node-name", str(name), "--address", str(address),
        "--labels", ",".join(labels), "--taints", ",".join(_list(config.get("node-taint"))),
        "--kubelet-version", KUBELET_VERSION, "--heartbeat-interval", heartbeat,
    ]


def write_kubeconfig(server: str, ca_pem: bytes, token: str, path: Path = KUBECONFIG) -> None:
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "agent",
        "clusters": [{"name": "rke2", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "rke2", "user": "agent"}}],
    }
    _write_secret(path, yaml.safe_dump(cfg))


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def agent(server: bool = False) -> int:
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
    if server:
        _write_secret(NODE_TOKEN, str(config["token"]) + "\n")
        write_kubeconfig(str(config["server"]), ca, token.password, ADMIN_KUBECONFIG)
    argv = kubelet_argv(config, KUBECONFIG, os.environ.get("AUTORKE_LAB_HEARTBEAT_S", "5"),
                        server=server)
    os.execv(argv[0], argv)
    return 1  # not reached


def main() -> int:
    if sys.argv[1:2] not in (["agent"], ["server"]):
        print("usage: rke2 agent|server  (the lab stand-in)", file=sys.stderr)
        return 1
    return agent(server=sys.argv[1] == "server")


if __name__ == "__main__":
    sys.exit(main())
