"""PodDisruptionBudgets: their status arithmetic and the Eviction subresource that obeys it.

An eviction (``POST .../pods/{name}/eviction``) deletes the pod unless a budget covering it
has no disruption left, which answers 429 TooManyRequests with a ``Status`` body, as the
real API server does (and 500 when several budgets cover the pod). Pods count as healthy
when they are Running with a True Ready condition; the expected count is the number of
pods the selector matches.
"""
from __future__ import annotations

import math
from typing import Any

from .registry import Registry
from .resources import PDBS, PODS
from .selectors import matches_selector_object, object_labels
from .status import KubeError, success, too_many_requests
from .store import ObjectStore


def pod_is_healthy(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


def _scaled(value: Any, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def covering_budgets(store: ObjectStore, pod: dict[str, Any]) -> list[dict[str, Any]]:
    labels = object_labels(pod)
    namespace = pod["metadata"]["namespace"]
    return [pdb for pdb in store.list(PDBS, namespace)
            if (pdb.get("spec") or {}).get("selector") is not None
            and matches_selector_object(pdb["spec"]["selector"], labels)]


def budget_status(store: ObjectStore, pdb: dict[str, Any]) -> dict[str, Any]:
    spec = pdb.get("spec") or {}
    pods = [p for p in store.list(PODS, pdb["metadata"]["namespace"])
            if matches_selector_object(spec.get("selector"), object_labels(p))]
    expected = len(pods)
    healthy = sum(1 for p in pods if pod_is_healthy(p))
    if spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
    else:
        desired = _scaled(spec.get("minAvailable", 1), expected)
    allowed = max(0, healthy - desired)
    return {
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
        "disruptionsAllowed": allowed,
        "conditions": [{
            "type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods",
            "message": "", "observedGeneration": pdb["metadata"].get("generation", 1),
            "lastTransitionTime": pdb["metadata"].get("creationTimestamp"),
        }],
    }


def evict(registry: Registry, namespace: str, name: str, body: Any) -> dict[str, Any]:
    store = registry.store
    pod = store.get(PODS, namespace, name)
    dry_run = "All" in (((body or {}).get("deleteOptions") or {}).get("dryRun") or [])
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Pending", "Succeeded", "Failed"):
        budgets = covering_budgets(store, pod)
        if len(budgets) > 1:
            raise KubeError(500, "InternalError", "This pod has more than one "
                            "PodDisruptionBudget, which the eviction subresource does not "
                            "support.")
        if budgets:
            status = budget_status(store, budgets[0])
            healthy, desired = status["currentHealthy"], status["desiredHealthy"]
            blocked = (status["disruptionsAllowed"] <= 0 if pod_is_healthy(pod)
                       else healthy < desired)
            if blocked:
                budget = budgets[0]["metadata"]["name"]
                raise too_many_requests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    [{"reason": "DisruptionBudget",
                      "message": f"The disruption budget {budget} needs {desired} healthy "
                                 f"pods and has {healthy} currently"}])
    registry.delete(PODS, namespace, name, dry_run=dry_run)
    return success(201)
