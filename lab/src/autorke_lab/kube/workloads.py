"""Workloads for drains to act on: ReplicaSet and DaemonSet controllers, a scheduler, the
pod-running half of the kubelet, pod garbage collection and PodDisruptionBudget status.

Deliberately small: a ReplicaSet keeps ``spec.replicas`` pods from its template (evicted
ones come back, unbound, and the scheduler puts them elsewhere); a DaemonSet keeps one pod
per matching node, tolerating cordons and unreachable nodes as the real one does; the
scheduler binds pending pods to the least-loaded Ready, schedulable worker whose taints
the pod tolerates, within its ``pods`` and ``nvidia.com/gpu`` allocatable; a pod bound to a
Ready node runs at once. Pods whose node or controlling owner is gone are deleted.
"""
from __future__ import annotations

import copy
import secrets
import string
from collections import defaultdict
from typing import Any

from .disruption import budget_status
from .nodes import internal_ip, is_core_only, is_ready
from .resources import DAEMONSETS, NODES, PDBS, PODS, REPLICASETS, Resource
from .selectors import matches_selector_object
from .store import ObjectStore, now_rfc3339

GPU = "nvidia.com/gpu"
_DS_IGNORED_TAINTS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable",
                      "node.kubernetes.io/unschedulable"}


def _suffix() -> str:
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def _controller_uid(pod: dict[str, Any]) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def tolerates(pod_spec: dict[str, Any], taint: dict[str, Any]) -> bool:
    for tol in pod_spec.get("tolerations") or []:
        if tol.get("effect") and tol["effect"] != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists" and not tol.get("key"):
            return True
        if tol.get("key") != taint.get("key"):
            continue
        if tol.get("operator") == "Exists" or tol.get("value", "") == taint.get("value", ""):
            return True
    return False


def _gpu_request(pod: dict[str, Any]) -> int:
    total = 0
    for container in (pod.get("spec") or {}).get("containers") or []:
        resources = container.get("resources") or {}
        value = (resources.get("limits") or {}).get(GPU) or (resources.get("requests") or {}).get(GPU)
        total += int(value or 0)
    return total


class WorkloadController:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._next_ip = 0

    def tick(self) -> None:
        nodes = {n["metadata"]["name"]: n for n in self.store.list(NODES)}
        self._collect_garbage(nodes)
        owned = self._owned()        # DaemonSet pods never count for a ReplicaSet: one pass
        self._daemonsets(nodes, owned)
        self._replicasets(owned)
        self._schedule_and_run(nodes)
        self._statuses()
        self._budgets()

    # garbage collection ------------------------------------------------------------------
    def _collect_garbage(self, nodes: dict[str, Any]) -> None:
        owners = {o["metadata"]["uid"] for res in (REPLICASETS, DAEMONSETS)
                  for o in self.store.list(res)}
        for pod in self.store.list(PODS):
            node = (pod.get("spec") or {}).get("nodeName")
            refs = [r for r in pod["metadata"].get("ownerReferences") or []
                    if r.get("controller") and r.get("kind") in ("ReplicaSet", "DaemonSet")]
            orphaned = bool(refs) and refs[0].get("uid") not in owners
            if (node and node not in nodes) or orphaned:
                self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])

    # controllers -------------------------------------------------------------------------
    def _new_pod(self, owner: dict[str, Any], kind: str, node: str | None) -> dict[str, Any]:
        template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
        meta = template.get("metadata") or {}
        name = f"{owner['metadata']['name']}-{_suffix()}"
        spec = template.get("spec") or {"containers": [{"name": "app", "image": "pause"}]}
        if node:
            spec["nodeName"] = node
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("restartPolicy", "Always")
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": owner["metadata"]["namespace"],
            "labels": dict(meta.get("labels") or {}),
            "annotations": dict(meta.get("annotations") or {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind,
                                 "name": owner["metadata"]["name"],
                                 "uid": owner["metadata"]["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]},
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}

    def _create_pod(self, pod: dict[str, Any]) -> None:
        self.store.create(PODS, pod)

    def _owned(self) -> dict[str, list[dict[str, Any]]]:
        owned: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for pod in self.store.list(PODS):
            uid = _controller_uid(pod)
            if uid:
                owned[uid].append(pod)
        return owned

    def _daemonsets(self, nodes: dict[str, Any], owned: dict[str, list[dict[str, Any]]]) -> None:
        for ds in self.store.list(DAEMONSETS):
            spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
            wanted = {name for name, node in nodes.items()
                      if matches_selector_object({"matchLabels": spec.get("nodeSelector")},
                                                 node["metadata"].get("labels") or {})
                      and all(t.get("key") in _DS_IGNORED_TAINTS or tolerates(spec, t)
                              or t.get("effect") == "PreferNoSchedule"
                              for t in (node.get("spec") or {}).get("taints") or [])}
            pods = {p["spec"].get("nodeName"): p for p in owned.get(ds["metadata"]["uid"], [])}
            for node in sorted(wanted - set(pods)):
                self._create_pod(self._new_pod(ds, "DaemonSet", node))
            for node, pod in pods.items():
                if node not in wanted:
                    self.store.delete(PODS, pod["metadata"]["namespace"],
                                      pod["metadata"]["name"])

    def _replicasets(self, owned: dict[str, list[dict[str, Any]]]) -> None:
        for rs in self.store.list(REPLICASETS):
            replicas = int((rs.get("spec") or {}).get("replicas", 1))
            pods = owned.get(rs["metadata"]["uid"], [])
            for _ in range(replicas - len(pods)):
                self._create_pod(self._new_pod(rs, "ReplicaSet", None))
            surplus = sorted(pods, key=lambda p: (p["status"].get("phase") == "Running",
                                                  p["metadata"]["name"]))
            for pod in surplus[:max(0, len(pods) - replicas)]:
                self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _statuses(self) -> None:
        owned = self._owned()
        for rs in self.store.list(REPLICASETS):
            pods = owned.get(rs["metadata"]["uid"], [])
            running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
            self._set_status(REPLICASETS, rs, {
                "replicas": len(pods), "fullyLabeledReplicas": len(pods),
                "readyReplicas": running, "availableReplicas": running,
                "observedGeneration": rs["metadata"].get("generation", 1)})
        for ds in self.store.list(DAEMONSETS):
            pods = owned.get(ds["metadata"]["uid"], [])
            ready = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
            self._set_status(DAEMONSETS, ds, {
                "currentNumberScheduled": len(pods), "desiredNumberScheduled": len(pods),
                "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                "updatedNumberScheduled": len(pods),
                "observedGeneration": ds["metadata"].get("generation", 1)})

    def _set_status(self, resource: Resource, obj: dict[str, Any],
                    status: dict[str, Any]) -> None:
        current = self.store.find(resource, obj["metadata"].get("namespace", ""),
                                  obj["metadata"]["name"])
        if current is not None and current.get("status") != status:
            self.store.replace(resource, dict(current, status=status),
                               current["metadata"]["resourceVersion"])

    def _budgets(self) -> None:
        for pdb in self.store.list(PDBS):
            status = budget_status(self.store, pdb)
            old = pdb.get("status") or {}
            if old.get("conditions"):   # keep the first transition time
                status["conditions"][0]["lastTransitionTime"] = old["conditions"][0].get(
                    "lastTransitionTime", status["conditions"][0]["lastTransitionTime"])
            self._set_status(PDBS, pdb, status)

    # scheduler and kubelet ---------------------------------------------------------------
    def _schedule_and_run(self, nodes: dict[str, Any]) -> None:
        pods = self.store.list(PODS)
        load: dict[str, int] = defaultdict(int)
        gpus: dict[str, int] = defaultdict(int)
        for pod in pods:
            bound = (pod.get("spec") or {}).get("nodeName")
            if bound:
                load[bound] += 1
                gpus[bound] += _gpu_request(pod)
        ready = {name for name, node in nodes.items() if is_ready(node)}
        for pod in pods:
            spec = pod.get("spec") or {}
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if not spec.get("nodeName"):
                node = self._pick(pod, nodes, load, gpus)
                if node is not None:
                    load[node] += 1
                    gpus[node] += _gpu_request(pod)
                    self._run(pod, nodes[node])
            elif spec["nodeName"] in ready and not _running_and_ready(pod):
                self._run(pod, nodes[spec["nodeName"]])

    def _pick(self, pod: dict[str, Any], nodes: dict[str, Any], load: dict[str, int],
              gpus: dict[str, int]) -> str | None:
        spec = pod.get("spec") or {}
        selector = spec.get("nodeSelector") or {}
        need_gpu = _gpu_request(pod)
        best: tuple[int, str] | None = None
        for name, node in nodes.items():
            labels = node["metadata"].get("labels") or {}
            allocatable = (node.get("status") or {}).get("allocatable") or {}
            if (not is_ready(node) or (node.get("spec") or {}).get("unschedulable")
                    or (is_core_only(node) and not selector)
                    or any(labels.get(k) != v for k, v in selector.items())
                    or load[name] >= int(allocatable.get("pods", 110))
                    or (need_gpu and gpus[name] + need_gpu > int(allocatable.get(GPU, 0)))
                    or any(t.get("effect") in ("NoSchedule", "NoExecute")
                           and not tolerates(spec, t)
                           for t in (node.get("spec") or {}).get("taints") or [])):
                continue
            if best is None or (load[name], name) < best:
                best = (load[name], name)
        return best[1] if best else None

    def _run(self, pod: dict[str, Any], node: dict[str, Any]) -> None:
        now = now_rfc3339()
        updated = copy.deepcopy(pod)
        spec = updated.setdefault("spec", {})
        spec["nodeName"] = node["metadata"]["name"]
        self._next_ip += 1
        status = updated.setdefault("status", {})
        status.update({
            "phase": "Running", "hostIP": internal_ip(node),
            "podIP": status.get("podIP") or f"10.42.{(self._next_ip >> 8) & 255}."
                                            f"{self._next_ip & 255}",
            "startTime": status.get("startTime") or now,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now,
                            "lastProbeTime": None}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{
                "name": c.get("name", "app"), "image": c.get("image", "pause"),
                "imageID": f"docker.io/library/{c.get('image', 'pause')}@sha256:" + "0" * 64,
                "containerID": f"containerd://{_suffix()}", "ready": True,
                "restartCount": 0, "started": True,
                "state": {"running": {"startedAt": now}}}
                for c in spec.get("containers") or []],
        })
        status["podIPs"] = [{"ip": status["podIP"]}]
        self.store.replace(PODS, updated, pod["metadata"]["resourceVersion"])


def _running_and_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or [])
