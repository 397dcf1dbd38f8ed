"""``cluster.yml`` as the rke stand-in reads it: the RKE1 fields that matter to the lab,
RKE's defaults, and RKE's validation messages.

Validation follows ``cluster/validation.go`` (duplicate address or hostname_override,
address/user/role provided, role recognised, at least one etcd host), with one rule
stricter than RKE 1.x, which accepts an even etcd count: the lab refuses it, because a
2- or 4-member etcd has no more fault tolerance than one fewer and AutoRKE must notice.

Lab key (not an RKE field; RKE ignores unknown top-level keys), or the same keys (and
``ssh_key_path``) for the cluster of that name in the file ``AUTORKE_LAB_RKE_CONFIG`` names
(the platform's cluster.yml carries no lab key: see :func:`..write_wrapper`)::

    x_autorke_lab:
      kubeconfig: /path/to/the/lab/cluster/admin-kubeconfig.yaml   # required
      known_hosts: /path/to/known_hosts  # optional, default ~/.ssh/known_hosts; host keys
                                         # are always verified (RKE itself does not)
      python: /path/to/venv/bin/python   # optional: interpreter for the simulated kubelet

The stand-in reads the lab Kubernetes API's URL, CA and admin token from that kubeconfig,
gives each node a kubeconfig for its simulated kubelet, and writes
``kube_config_<name>.yml`` pointing at the same API. Relative paths are resolved against
the directory of cluster.yml.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..interpreter import machine_python

ROLES = ("etcd", "controlplane", "worker")
LAB_KEY = "x_autorke_lab"
DEFAULT_K8S_VERSION = "v1.28.15-rancher1-1"
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ConfigError(Exception):
    """cluster.yml is unreadable or invalid; the message is RKE's wording."""


@dataclass(frozen=True)
class SSHEndpoint:
    address: str
    port: int
    user: str
    key_path: Path | None


@dataclass(frozen=True)
class Node:
    address: str
    port: int
    user: str
    roles: tuple[str, ...]
    hostname: str  # hostname_override, else address: the Kubernetes node name
    internal_address: str
    key_path: Path | None
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict, ...] = ()

    @property
    def ssh(self) -> SSHEndpoint:
        return SSHEndpoint(self.address, self.port, self.user, self.key_path)


@dataclass(frozen=True)
class ClusterConfig:
    path: Path
    raw: dict[str, Any]
    nodes: tuple[Node, ...]
    cluster_name: str
    kubernetes_version: str
    bastion: SSHEndpoint | None
    known_hosts: Path
    lab_kubeconfig: Path
    lab_python: str
    lab_python_env: dict[str, str]

    @property
    def state_path(self) -> Path:
        return self.path.with_suffix(".rkestate")

    @property
    def kubeconfig_path(self) -> Path:
        return self.path.with_name(f"kube_config_{self.path.stem}.yml")

    def with_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes if role in n.roles]


def _path(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def load(path: Path) -> ClusterConfig:
    """Read and validate ``path``; raise :class:`ConfigError` with RKE's message."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Failed to parse cluster file: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError("Failed to parse cluster file: not a mapping")
    base = path.resolve().parent
    lab = raw.get(LAB_KEY) or wrapped(raw.get("cluster_name"))
    default_key = _path(base, raw.get("ssh_key_path") or lab.get("ssh_key_path") or "~/.ssh/id_rsa")
    nodes = [_node(base, i, n, default_key) for i, n in enumerate(raw.get("nodes") or [], 1)]
    validate(nodes)
    if not lab.get("kubeconfig"):
        raise ConfigError(f"{LAB_KEY}.kubeconfig is not provided: the lab rke needs the lab API")
    bastion = None
    if raw.get("bastion_host", {}).get("address"):
        b = raw["bastion_host"]
        bastion = SSHEndpoint(
            b["address"], int(b.get("port") or 22), b.get("user") or "root",
            _path(base, b.get("ssh_key_path")) or default_key,
        )
    return ClusterConfig(
        path=path.resolve(),
        raw=raw,
        nodes=tuple(nodes),
        cluster_name=raw.get("cluster_name") or "local",
        kubernetes_version=raw.get("kubernetes_version") or DEFAULT_K8S_VERSION,
        bastion=bastion,
        known_hosts=_path(base, lab.get("known_hosts") or "~/.ssh/known_hosts"),
        lab_kubeconfig=_path(base, lab["kubeconfig"]),
        lab_python=lab.get("python") or machine_python()[0],
        lab_python_env={} if lab.get("python") else machine_python()[1],
    )


def nodes_of(raw: dict[str, Any], base: Path) -> list[Node]:
    """The nodes of a cluster.yml already parsed (e.g. the ``rkeConfig`` of a state file),
    paths relative to ``base``; not validated."""
    lab = raw.get(LAB_KEY) or wrapped(raw.get("cluster_name"))
    default_key = _path(base, raw.get("ssh_key_path") or lab.get("ssh_key_path") or "~/.ssh/id_rsa")
    return [_node(base, i, n, default_key) for i, n in enumerate(raw.get("nodes") or [], 1)]


def wrapped(cluster_name: object) -> dict[str, Any]:
    """The lab's files of ``cluster_name`` as the platform's ``rke`` wrapper script names them
    (``AUTORKE_LAB_RKE_CONFIG``; see :func:`..write_wrapper`), or nothing."""
    path = os.environ.get("AUTORKE_LAB_RKE_CONFIG")
    if not path or not isinstance(cluster_name, str):
        return {}
    try:
        clusters = json.loads(Path(path).read_text()).get("clusters") or {}
    except (OSError, ValueError):
        return {}
    found = clusters.get(cluster_name)
    return dict(found) if isinstance(found, dict) else {}


def _node(base: Path, index: int, n: dict, default_key: Path | None) -> Node:
    if not isinstance(n, dict):
        raise ConfigError(f"Failed to parse cluster file: node ({index}) is not a mapping")
    roles = n.get("role") or []
    if isinstance(roles, str):
        roles = [roles]
    address = str(n.get("address") or "")
    return Node(
        address=address,
        port=int(n.get("port") or 22),
        user=str(n.get("user") or ""),
        roles=tuple(roles),
        hostname=str(n.get("hostname_override") or address),
        internal_address=str(n.get("internal_address") or address),
        key_path=_path(base, n.get("ssh_key_path")) or default_key,
        labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()},
        taints=tuple(n.get("taints") or ()),
    )


def validate(nodes: list[Node]) -> None:
    addresses: set[str] = set()
    hostnames: set[str] = set()
    for node in nodes:
        if node.address in addresses or node.hostname in hostnames:
            dup = node.address if node.address in addresses else node.hostname
            raise ConfigError(f"Cluster can't have duplicate node: {dup}")
        addresses.add(node.address)
        hostnames.add(node.hostname)
    for i, node in enumerate(nodes, 1):
        if not node.address:
            raise ConfigError(f"Address for host ({i}) is not provided")
        if not node.user:
            raise ConfigError(f"User for host ({i}) is not provided")
        if not node.roles:
            raise ConfigError(f"Role for host ({i}) is not provided")
        if not _DNS1123.match(node.hostname):
            raise ConfigError(f"Hostname_override [{node.hostname}] for host ({i}) is not valid")
        for role in node.roles:
            if role not in ROLES:
                raise ConfigError(f"Role [{role}] for host ({i}) is not recognized")
    etcd = sum(1 for n in nodes if "etcd" in n.roles)
    if etcd == 0:
        raise ConfigError(
            "Cluster must have at least one etcd plane host: "
            "please specify one or more etcd in cluster config"
        )
    if etcd % 2 == 0:
        raise ConfigError(
            f"Cluster must have an odd number of etcd plane hosts, found {etcd}: "
            "an even etcd membership tolerates no more failures than one member fewer"
        )
