"""What a member's Kubernetes node looks like, read from a node listing: its Ready
condition, the other conditions that are not OK, its kubelet version and whether it is
cordoned. Pure: the listing comes from the executor's ``kube``/``list_nodes`` (a flat
summary) or a full v1 Node as a dict; nothing here does I/O.

The operator's summary (``summary``) follows ``kubectl get nodes``: ``Ready`` when the
Ready condition is True, ``NotReady`` when it is False *or* Unknown (a kubelet that stopped
posting is NotReady to kubectl too; the raw ``ready`` keeps the difference), and
``Unknown`` when there is no observation: never observed, or the node is not registered in
the API.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Conditions whose healthy status is "False" are every condition but Ready.
OK_STATUS = {"Ready": "True"}


@dataclass(frozen=True)
class NodeStatus:
    ready: str | None  # "True" | "False" | "Unknown" | None (no Ready condition / not registered)
    reason: str | None = None
    message: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    kubelet_version: str | None = None
    unschedulable: bool = False
    registered: bool = True

    @property
    def summary(self) -> str:
        return summary(self.ready, self.registered)

    def fingerprint(self) -> tuple:
        """What a change event is about (not the message text or the observation time)."""
        return (self.ready, self.registered, self.unschedulable, self.kubelet_version,
                tuple(sorted((p["type"], p["status"]) for p in self.problems)))


def summary(ready: str | None, registered: bool = True) -> str:
    if not registered or ready is None:
        return "Unknown"
    return "Ready" if ready == "True" else "NotReady"


def _conditions(node: dict[str, Any]) -> list[dict[str, Any]]:
    raw = node.get("conditions")
    if raw is None:
        raw = (node.get("status") or {}).get("conditions") or []
    out = []
    for c in raw:
        out.append({"type": str(c.get("type")), "status": str(c.get("status")),
                    "reason": c.get("reason"), "message": c.get("message"),
                    "since": c.get("last_transition_time") or c.get("lastTransitionTime")})
    return out


def read(node: dict[str, Any]) -> NodeStatus:
    """The status of one listed node (flat summary or full v1 Node)."""
    conditions = _conditions(node)
    ready = next((c for c in conditions if c["type"] == "Ready"), None)
    ready_status = ready["status"] if ready else None
    if ready_status is not None and ready_status not in ("True", "False", "Unknown"):
        ready_status = "Unknown"
    if ready is None and isinstance(node.get("ready"), bool):  # a listing without conditions
        ready_status = "True" if node["ready"] else "False"
    problems = [{k: c[k] for k in ("type", "status", "reason", "message", "since")}
                for c in conditions
                if c["type"] != "Ready" and c["status"] != OK_STATUS.get(c["type"], "False")]
    info = (node.get("status") or {}).get("nodeInfo") or {}
    spec = node.get("spec") or {}
    unschedulable = node.get("unschedulable") if "unschedulable" in node else spec.get("unschedulable")
    return NodeStatus(ready=ready_status, reason=ready.get("reason") if ready else None,
                      message=(ready.get("message") or None) if ready else None,
                      problems=problems,
                      kubelet_version=node.get("kubelet_version") or info.get("kubeletVersion"),
                      unschedulable=bool(unschedulable))


NOT_REGISTERED = NodeStatus(ready=None, reason="NotRegistered",
                            message="no node of this machine is registered in the cluster's API",
                            registered=False)
