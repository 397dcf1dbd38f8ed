"""Kubernetes API work with the official client: one ``ApiClient`` per cluster, built by hand
from the cluster's kubeconfig (opened from its sealed form only in memory, checked against
the allow-list of :mod:`autorke_common.kubeconfig` first: an ``exec`` plugin, a file path
or a plain-http server is refused with ``unsafe-kubeconfig`` before anything runs; never the
client's loader, no global configuration), and the node operations the flows need.

Drain works like ``kubectl drain``: cordon, then evict every pod on the node except
DaemonSet-owned and mirror pods; an eviction a PodDisruptionBudget blocks (429) is retried
until the deadline; then wait until the evicted pods are gone."""
from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from autorke_common import kubeclient
from autorke_common.errors import Invalid

MIRROR = "kubernetes.io/config.mirror"


class KubeFailure(Exception):
    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


def api_client(kubeconfig_text: str) -> client.ApiClient:
    """The cluster's client; :class:`KubeFailure` ``unsafe-kubeconfig`` (the detail names the
    refused key, never a value) when the kubeconfig is not on the allow-list."""
    try:
        return kubeclient.api_client(kubeconfig_text)
    except Invalid as exc:
        raise KubeFailure(exc.slug, exc.detail) from None


def _classify(exc: Exception) -> KubeFailure:
    if isinstance(exc, ApiException):
        if exc.status in (401, 403):
            return KubeFailure("auth", f"API refused: {exc.status} {exc.reason}")
        if exc.status == 404:
            return KubeFailure("failed", "not found")
        return KubeFailure("failed", f"API error {exc.status} {exc.reason}")
    return KubeFailure("unreachable", f"API unreachable: {type(exc).__name__}: {exc}")


def _condition(c: Any) -> dict:
    """A node condition as the inventory records it (message capped: it is free text)."""
    when = c.last_transition_time
    return {"type": c.type, "status": c.status, "reason": c.reason,
            "message": (c.message or "")[:300] or None,
            "last_transition_time": when.isoformat() if hasattr(when, "isoformat") else when}


class Cluster:
    """One cluster's API, used by many threads (the client's pool is thread-safe)."""

    def __init__(self, api: client.ApiClient, request_timeout_s: float = 30.0) -> None:
        self.api = api
        self.v1 = client.CoreV1Api(api)
        self.t = request_timeout_s

    def close(self) -> None:
        self.api.close()

    def call(self, fn, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.t, **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to the contract's error classes
            raise _classify(exc) from None

    def cordon(self, node: str, on: bool = True) -> dict:
        self.call(self.v1.patch_node, node, {"spec": {"unschedulable": on}})
        return {"unschedulable": on}

    def label(self, node: str, labels: dict[str, str | None]) -> dict:
        n = self.call(self.v1.patch_node, node, {"metadata": {"labels": labels}})
        return {"labels": dict(n.metadata.labels or {})}

    def taint(self, node: str, add: list[dict], remove: list[str]) -> dict:
        n = self.call(self.v1.read_node, node)
        keep = [t for t in ((n.spec.taints if n.spec else None) or [])
                if t.key not in set(remove) and all((t.key, t.effect) != (a["key"], a["effect"]) for a in add)]
        taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in keep]
        taints += [{"key": a["key"], "value": a.get("value"), "effect": a["effect"]} for a in add]
        self.call(self.v1.patch_node, node, {"spec": {"taints": taints}})
        return {"taints": taints}

    def delete_node(self, node: str) -> dict:
        try:
            self.call(self.v1.delete_node, node)
        except KubeFailure as exc:
            if str(exc) != "not found":
                raise
            return {"deleted": False, "note": "already gone"}
        return {"deleted": True}

    def ready(self, node: str) -> bool:
        try:
            n = self.call(self.v1.read_node, node)
        except KubeFailure:
            return False
        return any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or []))

    def wait_ready(self, node: str, timeout_s: float, interval: float = 0.5) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.ready(node):
                return {"ready": True}
            if time.monotonic() >= deadline:
                raise KubeFailure("timeout", f"node {node} not Ready within {timeout_s:g} s")
            time.sleep(interval)

    def list_nodes(self) -> dict:
        nodes = self.call(self.v1.list_node).items
        return {"nodes": [{
            "name": n.metadata.name, "labels": dict(n.metadata.labels or {}),
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect}
                       for t in ((n.spec.taints if n.spec else None) or [])],
            "unschedulable": bool(n.spec and n.spec.unschedulable),
            "ready": any(c.type == "Ready" and c.status == "True" for c in (n.status.conditions or [])),
            "addresses": [{"type": a.type, "address": a.address} for a in (n.status.addresses or [])],
            "kubelet_version": getattr(n.status.node_info, "kubelet_version", None) if n.status.node_info else None,
            "conditions": [_condition(c) for c in (n.status.conditions or [])],
        } for n in nodes]}

    def drain(self, node: str, timeout_s: float, grace_period_s: int | None = None,
              retry_s: float = 1.0) -> dict:
        self.cordon(node, True)
        deadline = time.monotonic() + timeout_s
        pods = self.call(self.v1.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}").items
        skipped, todo = [], []
        for p in pods:
            owners = p.metadata.owner_references or []
            if any(o.kind == "DaemonSet" for o in owners):
                skipped.append(f"{p.metadata.namespace}/{p.metadata.name} (DaemonSet)")
            elif MIRROR in (p.metadata.annotations or {}):
                skipped.append(f"{p.metadata.namespace}/{p.metadata.name} (mirror)")
            else:
                todo.append((p.metadata.namespace, p.metadata.name))
        evicted, blocked = [], 0
        while todo:
            ns, name = todo[0]
            body = client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=ns),
                                     delete_options=client.V1DeleteOptions(grace_period_seconds=grace_period_s))
            try:
                self.v1.create_namespaced_pod_eviction(name, ns, body, _request_timeout=self.t)
                evicted.append(f"{ns}/{name}")
                todo.pop(0)
                continue
            except ApiException as exc:
                if exc.status == 404:
                    todo.pop(0)
                    continue
                if exc.status != 429:
                    raise _classify(exc) from None
                blocked += 1
            except Exception as exc:  # noqa: BLE001
                raise _classify(exc) from None
            if time.monotonic() >= deadline:
                raise KubeFailure("timeout", f"drain of {node}: eviction of {ns}/{name} still blocked by a "
                                  f"disruption budget after {timeout_s:g} s ({len(todo)} pod(s) left)")
            todo.append(todo.pop(0))  # try the others while the budget holds this one
            time.sleep(retry_s)
        while True:
            left = [f"{p.metadata.namespace}/{p.metadata.name}" for p in self.call(
                self.v1.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}").items
                if f"{p.metadata.namespace}/{p.metadata.name}" in set(evicted)]
            if not left:
                break
            if time.monotonic() >= deadline:
                raise KubeFailure("timeout", f"drain of {node}: pods not gone in time: {', '.join(left[:5])}")
            time.sleep(0.5)
        return {"evicted": evicted, "skipped": skipped, "blocked_retries": blocked}
