"""The node lifecycle controller: a node whose kubelet stops posting status goes NotReady.

Like kube-controller-manager's, it remembers when it last saw each node's Ready heartbeat
change (by its own clock, not the kubelet's timestamps); after ``grace_seconds`` without a
change every condition becomes ``Unknown`` (reason ``NodeStatusUnknown``, or
``NodeStatusNeverUpdated`` for a node that never posted one), the
``node.kubernetes.io/unreachable`` NoSchedule and NoExecute taints are added and the
node's pods lose their Ready condition. When the kubelet posts Ready again, the taints go.

Hollow nodes have no kubelet: the server is theirs, so this controller keeps them Ready.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from .nodes import healthy_conditions, is_hollow, ready_condition
from .resources import NODES, PODS
from .store import ObjectStore, now_rfc3339

UNREACHABLE = "node.kubernetes.io/unreachable"


class NodeLifecycleController:
    def __init__(self, store: ObjectStore, grace_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.grace_seconds = grace_seconds
        self._clock = clock
        self._seen: dict[str, tuple[str | None, float]] = {}

    def tick(self) -> None:
        now = self._clock()
        names = set()
        for node in self.store.list(NODES):
            name = node["metadata"]["name"]
            names.add(name)
            ready = ready_condition(node)
            if is_hollow(node):
                if ready is None or ready.get("status") != "True":
                    self._write(node, self._heal_hollow)
                continue
            heartbeat = ready.get("lastHeartbeatTime") if ready else None
            seen = self._seen.get(name)
            if seen is None or seen[0] != heartbeat:
                self._seen[name] = (heartbeat, now)
            elif now - seen[1] > self.grace_seconds:
                if ready is None or ready.get("status") != "Unknown":
                    self._write(node, self._mark_unknown)
                    self._mark_pods_not_ready(name)
                continue
            if ready is not None and ready.get("status") == "True" and _has_unreachable(node):
                self._write(node, _drop_unreachable)
        for gone in set(self._seen) - names:
            del self._seen[gone]

    def _write(self, node: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
        updated = copy.deepcopy(node)
        change(updated)
        self.store.replace(NODES, updated, node["metadata"]["resourceVersion"])

    @staticmethod
    def _heal_hollow(node: dict[str, Any]) -> None:
        node.setdefault("status", {})["conditions"] = healthy_conditions(now_rfc3339())
        _drop_unreachable(node)

    @staticmethod
    def _mark_unknown(node: dict[str, Any]) -> None:
        now = now_rfc3339()
        status = node.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        if not any(c.get("type") == "Ready" for c in conditions):
            created = node["metadata"]["creationTimestamp"]
            conditions.append({"type": "Ready", "status": "Unknown",
                               "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": created, "lastTransitionTime": now})
        for cond in conditions:
            if cond.get("reason") != "NodeStatusNeverUpdated":
                cond.update(status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.",
                            lastTransitionTime=now)
        taints = node.setdefault("spec", {}).setdefault("taints", [])
        for effect in ("NoSchedule", "NoExecute"):
            if not any(t.get("key") == UNREACHABLE and t.get("effect") == effect
                       for t in taints):
                taint = {"key": UNREACHABLE, "effect": effect}
                if effect == "NoExecute":
                    taint["timeAdded"] = now
                taints.append(taint)

    def _mark_pods_not_ready(self, node_name: str) -> None:
        now = now_rfc3339()
        for pod in self.store.list(PODS):
            if (pod.get("spec") or {}).get("nodeName") != node_name:
                continue
            updated = copy.deepcopy(pod)
            for cond in (updated.get("status") or {}).get("conditions") or []:
                if cond.get("type") in ("Ready", "ContainersReady") and cond["status"] == "True":
                    cond.update(status="False", lastTransitionTime=now)
            if updated != pod:
                self.store.replace(PODS, updated, pod["metadata"]["resourceVersion"])


def _has_unreachable(node: dict[str, Any]) -> bool:
    return any(t.get("key") == UNREACHABLE for t in (node.get("spec") or {}).get("taints") or [])


def _drop_unreachable(node: dict[str, Any]) -> None:
    spec = node.setdefault("spec", {})
    kept = [t for t in spec.get("taints") or [] if t.get("key") != UNREACHABLE]
    if kept:
        spec["taints"] = kept
    else:
        spec.pop("taints", None)
