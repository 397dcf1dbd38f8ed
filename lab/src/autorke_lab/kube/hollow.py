"""Hollow nodes: thousands of Node objects (and their pods) with no machine behind them, as
KWOK makes them, for scale tests and benchmarks.

They carry KWOK's ``kwok.x-k8s.io/node: fake`` annotation; the node lifecycle controller
keeps them Ready in place of a kubelet. Their addresses come from 198.18.0.0/15 (the
benchmarking range, RFC 2544): nothing listens there and nothing should try to. Pods are
owned by a ``hollow-workload`` ReplicaSet in ``default`` and bound round-robin, so the
ReplicaSet controller keeps them and a drain of a hollow node has pods to evict.
"""
from __future__ import annotations

from typing import Any

from .nodes import DEFAULT_CAPACITY, HOLLOW_ANNOTATION, WORKER_ROLE, node_object
from .resources import NODES, PODS, REPLICASETS
from .store import ObjectStore, now_rfc3339
from .workloads import GPU

HOLLOW_WORKLOAD = "hollow-workload"


def hollow_node(index: int, prefix: str, kubelet_version: str) -> dict[str, Any]:
    name = f"{prefix}{index:05d}"
    labels = {WORKER_ROLE: "true", "topology.kubernetes.io/zone": f"zone-{index % 3}",
              "rack": f"r{index // 40:03d}", "lab.autorke.io/hollow": "true"}
    capacity = dict(DEFAULT_CAPACITY)
    if index % 4 == 0:
        labels["nvidia.com/gpu.present"] = "true"
        capacity[GPU] = "8"
    address = f"198.{18 + (index >> 16) % 2}.{(index >> 8) & 255}.{index & 255}"
    return node_object(name, now=now_rfc3339(), labels=labels, capacity=capacity,
                       address=address, kubelet_version=kubelet_version,
                       annotations={HOLLOW_ANNOTATION: "fake"})


def fill_hollow_nodes(store: ObjectStore, count: int, *, pods_per_node: int = 0,
                      prefix: str = "hollow-", start: int = 0,
                      kubelet_version: str = "v1.30.4+rke2r1") -> list[str]:
    """Create ``count`` hollow nodes (and ``pods_per_node`` pods on each); their names."""
    names = []
    for index in range(start, start + count):
        node = store.create(NODES, hollow_node(index, prefix, kubelet_version))
        names.append(node["metadata"]["name"])
    if pods_per_node <= 0:
        return names
    owner = store.find(REPLICASETS, "default", HOLLOW_WORKLOAD)
    labels = {"app": HOLLOW_WORKLOAD}
    template = {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}
    total = count * pods_per_node
    if owner is None:
        owner = store.create(REPLICASETS, {
            "metadata": {"name": HOLLOW_WORKLOAD, "namespace": "default", "generation": 1,
                         "labels": labels},
            "spec": {"replicas": total, "selector": {"matchLabels": labels},
                     "template": template}, "status": {"replicas": 0}})
    else:
        spec = dict(owner["spec"], replicas=owner["spec"]["replicas"] + total)
        owner = store.replace(REPLICASETS, dict(owner, spec=spec))
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": HOLLOW_WORKLOAD,
           "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    for name in names:
        for slot in range(pods_per_node):
            store.create(PODS, {
                "metadata": {"name": f"{HOLLOW_WORKLOAD}-{name}-{slot}", "namespace": "default",
                             "labels": dict(labels), "ownerReferences": [dict(ref)]},
                "spec": {"nodeName": name, "schedulerName": "default-scheduler",
                         "restartPolicy": "Always", "containers": template["spec"]["containers"]},
                "status": {"phase": "Pending", "qosClass": "BestEffort"}})
    return names
