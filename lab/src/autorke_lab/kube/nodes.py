"""What a registered Node looks like, shared by the simulated kubelet and the hollow nodes.

Also the small vocabulary about nodes both controllers need: the Ready condition, the
``--labels``/``--taints``/``--capacity`` string forms the kubelet CLI takes (the same
``k=v`` and ``k=v:Effect`` forms RKE2's ``node-label``/``node-taint`` use), and the
annotation marking a hollow node (KWOK's ``kwok.x-k8s.io/node: fake``).
"""
from __future__ import annotations

import hashlib
from typing import Any

HOLLOW_ANNOTATION = "kwok.x-k8s.io/node"
DEFAULT_CAPACITY = {"cpu": "16", "memory": "65536Mi", "pods": "110",
                    "ephemeral-storage": "512Gi", "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
DEFAULT_KUBELET_VERSION = "v1.30.4+rke2r1"
_CORE_ROLES = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/controlplane",
               "node-role.kubernetes.io/master", "node-role.kubernetes.io/etcd")
WORKER_ROLE = "node-role.kubernetes.io/worker"


def parse_labels(text: str | None) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in (text or "").split(","):
        if item.strip():
            key, _, value = item.strip().partition("=")
            labels[key] = value
    return labels


def parse_taints(text: str | None) -> list[dict[str, str]]:
    """``key=value:Effect`` or ``key:Effect``, comma-separated."""
    taints = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        spec, _, effect = item.strip().rpartition(":")
        if not spec:
            raise ValueError(f"taint {item!r} needs an effect (key=value:Effect)")
        key, _, value = spec.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def parse_capacity(text: str | None) -> dict[str, str]:
    capacity = dict(DEFAULT_CAPACITY)
    capacity.update(parse_labels(text))
    return capacity


def condition(cond_type: str, status: str, reason: str, message: str, now: str,
              transition: str | None = None) -> dict[str, str]:
    return {"type": cond_type, "status": status, "lastHeartbeatTime": now,
            "lastTransitionTime": transition or now, "reason": reason, "message": message}


def healthy_conditions(now: str, transition: str | None = None) -> list[dict[str, str]]:
    return [
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                  "kubelet has sufficient memory available", now, transition),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                  "kubelet has no disk pressure", now, transition),
        condition("PIDPressure", "False", "KubeletHasSufficientPID",
                  "kubelet has sufficient PID available", now, transition),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now,
                  transition),
    ]


def node_object(name: str, *, now: str, labels: dict[str, str] | None = None,
                taints: list[dict[str, str]] | None = None,
                capacity: dict[str, str] | None = None, address: str = "127.0.0.1",
                kubelet_version: str = DEFAULT_KUBELET_VERSION,
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
    capacity = dict(capacity or DEFAULT_CAPACITY)
    all_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                  "beta.kubernetes.io/arch": "amd64", **(labels or {})}
    digest = hashlib.sha256(name.encode()).hexdigest()
    runtime = ("docker://24.0.9" if "rke2" not in kubelet_version
               else "containerd://1.7.17-k3s1")
    spec: dict[str, Any] = {"providerID": f"lab://{name}"}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": all_labels,
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "projectcalico.org/IPv4Address": f"{address}/24",
                                     **(annotations or {})}},
        "spec": spec,
        "status": {
            "capacity": capacity, "allocatable": dict(capacity),
            "conditions": healthy_conditions(now),
            "addresses": [{"type": "InternalIP", "address": address},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": digest[:32], "systemUUID": digest[32:40] + "-lab",
                "bootID": digest[40:64], "kernelVersion": "6.1.0-lab-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": runtime, "kubeletVersion": kubelet_version,
                "kubeProxyVersion": kubelet_version, "operatingSystem": "linux",
                "architecture": "amd64"},
        },
    }


def ready_condition(node: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_ready(node: dict[str, Any]) -> bool:
    cond = ready_condition(node)
    return cond is not None and cond.get("status") == "True"


def is_hollow(node: dict[str, Any]) -> bool:
    return ((node["metadata"].get("annotations") or {}).get(HOLLOW_ANNOTATION)) == "fake"


def is_core_only(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    return WORKER_ROLE not in labels and any(role in labels for role in _CORE_ROLES)


def internal_ip(node: dict[str, Any]) -> str:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP":
            return addr["address"]
    return ""

