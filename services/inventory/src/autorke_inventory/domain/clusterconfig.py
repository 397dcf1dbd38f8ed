"""``cluster.yml`` generated from the inventory (P3) and checked against RKE's rules before
it is stored: configs are never hand-copied, and a broken one never reaches ``rke up``.

:func:`render` turns a cluster's registration and its members into RKE1's cluster.yml
(nodes with roles, labels and taints, bastion, service CIDRs, network plugin, plus the
cluster's options, checked against :mod:`.options` when they were set, merged in). :func:`validate` checks any
cluster.yml text — rendered or uploaded — and refuses it (``Invalid``) with the slug
``invalid-cluster-config`` and one ``rule`` per mistake, each with its own message:
``unknown-role``, ``duplicate-address``, ``node-without-role``, ``no-etcd``, ``even-etcd``
(and ``no-nodes``, ``missing-address``, ``missing-user``, ``duplicate-hostname``,
``unparsable``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from autorke_common import untrusted_yaml
from autorke_common.errors import Invalid
from autorke_inventory.domain.roles import ROLES

DEFAULT_K8S_VERSION = "v1.28.15-rancher1-1"


@dataclass(frozen=True)
class NodeSpec:
    hostname: str
    address: str
    port: int
    user: str
    roles: list[str]
    internal_address: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    pod_cidr: str
    service_cidr: str
    bastion: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


def render(cluster: ClusterSpec, nodes: list[NodeSpec]) -> str:
    """cluster.yml for ``cluster`` with ``nodes`` (sorted by hostname, so the same inventory
    always renders the same text and diffs stay small)."""
    options = dict(cluster.options)
    doc: dict[str, Any] = {
        "cluster_name": cluster.name,
        "kubernetes_version": options.pop("kubernetes_version", DEFAULT_K8S_VERSION),
        "nodes": [_node(n) for n in sorted(nodes, key=lambda n: n.hostname)],
        "services": {
            "kube-api": {"service_cluster_ip_range": cluster.service_cidr},
            "kube-controller": {"cluster_cidr": cluster.pod_cidr,
                                "service_cluster_ip_range": cluster.service_cidr},
            "etcd": {"snapshot": True, "backup_config": {"enabled": True, "interval_hours": 12,
                                                         "retention": 6}},
        },
        "network": {"plugin": options.pop("network_plugin", "calico")},
    }
    if cluster.bastion:
        doc["bastion_host"] = {k: v for k, v in cluster.bastion.items() if v is not None}
    return yaml.safe_dump(_merged(doc, options), sort_keys=False, default_flow_style=False)


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, mapping into mapping (an option under ``services.kube-api``
    keeps the service CIDR the registration sets there)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def _node(n: NodeSpec) -> dict[str, Any]:
    node: dict[str, Any] = {"address": n.address, "port": str(n.port), "user": n.user,
                            "role": list(n.roles), "hostname_override": n.hostname}
    if n.internal_address and n.internal_address != n.address:
        node["internal_address"] = n.internal_address
    if n.labels:
        node["labels"] = dict(n.labels)
    if n.taints:
        node["taints"] = [dict(t) for t in n.taints]
    return node


def _refuse(errors: list[dict[str, str]]) -> Invalid:
    return Invalid("invalid-cluster-config", "; ".join(e["message"] for e in errors), rule=errors[0]["rule"],
                   errors=errors)


def parse(text: str) -> dict[str, Any]:
    try:
        doc = untrusted_yaml.load(text)
    except yaml.YAMLError as exc:
        raise _refuse([{"rule": "unparsable", "message": f"cluster.yml is not YAML: {exc}"}]) from None
    if not isinstance(doc, dict):
        raise _refuse([{"rule": "unparsable", "message": "cluster.yml is not a mapping"}])
    return doc


def validate(text: str) -> dict[str, Any]:
    """The parsed document, or ``invalid-cluster-config`` listing every mistake found."""
    doc = parse(text)
    nodes = doc.get("nodes") or []
    errors: list[dict[str, str]] = []

    def err(rule: str, message: str) -> None:
        errors.append({"rule": rule, "message": message})

    if not isinstance(nodes, list) or not nodes:
        err("no-nodes", "cluster.yml has no nodes")
        raise _refuse(errors)
    addresses: dict[str, int] = {}
    hostnames: dict[str, int] = {}
    for i, node in enumerate(nodes, 1):
        if not isinstance(node, dict):
            err("unparsable", f"node {i} is not a mapping")
            continue
        address = str(node.get("address") or "")
        name = f"node {i} ({address or 'no address'})"
        if not address:
            err("missing-address", f"node {i} has no address")
        elif address in addresses:
            err("duplicate-address",
                f"{name}: address {address} is already used by node {addresses[address]}")
        else:
            addresses[address] = i
        hostname = str(node.get("hostname_override") or address)
        if node.get("hostname_override") and hostname in hostnames:
            err("duplicate-hostname",
                f"{name}: hostname {hostname} is already used by node {hostnames[hostname]}")
        hostnames.setdefault(hostname, i)
        if not node.get("user"):
            err("missing-user", f"{name} has no ssh user")
        roles = node.get("role") or []
        roles = [roles] if isinstance(roles, str) else list(roles)
        if not roles:
            err("node-without-role", f"{name} has no role; give it one of {', '.join(ROLES)}")
        for role in roles:
            if role not in ROLES:
                err("unknown-role",
                    f"{name}: role {role!r} is unknown; roles are {', '.join(ROLES)}")
    etcd = sum(1 for n in nodes if isinstance(n, dict) and "etcd" in (
        [n.get("role")] if isinstance(n.get("role"), str) else (n.get("role") or [])))
    if etcd == 0:
        err("no-etcd", "the cluster has no etcd node; it needs an odd number (1, 3, 5) of them")
    elif etcd % 2 == 0:
        err("even-etcd", f"the cluster has {etcd} etcd nodes, an even number: an even etcd "
                         f"tolerates no more failures than {etcd - 1}; use an odd number")
    if errors:
        raise _refuse(errors)
    return doc
