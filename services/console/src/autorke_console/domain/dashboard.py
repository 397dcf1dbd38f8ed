"""What the dashboard counts, from the public API's answers: a list's count (``500+`` when
the list goes on past the page read), a cluster's node health from its members as the
inventory last read them from the cluster's API, and the approvals that wait for this user."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: the changes that need someone: shown as counts, open ones per cluster
OPEN = ("running", "awaiting_approval", "compensating")
TROUBLE = ("failed", "partially_failed")


@dataclass(frozen=True)
class Count:
    n: int
    more: bool = False  # the list went on past the page that was read

    def __str__(self) -> str:
        return f"{self.n:,}+" if self.more else f"{self.n:,}"


def count_of(page: dict[str, Any] | None) -> Count | None:
    """A list answer's count: its ``total`` when it gives one, else its items."""
    if not isinstance(page, dict):
        return None
    if isinstance(page.get("total"), int):
        return Count(page["total"])
    return Count(len(page.get("items") or []), bool(page.get("next_cursor")))


def node_status(member: dict[str, Any]) -> str:
    """``Ready``, ``NotReady`` or ``Unknown`` (never read, or not registered)."""
    node = (member.get("kubernetes") or {}).get("node") if isinstance(member.get("kubernetes"), dict) else None
    return str(node.get("status") or "Unknown") if isinstance(node, dict) else "Unknown"


def node_health(members: list[dict[str, Any]]) -> dict[str, int]:
    statuses = [node_status(m) for m in members]
    return {"members": len(members), "ready": statuses.count("Ready"), "not_ready": statuses.count("NotReady"),
            "unknown": statuses.count("Unknown")}


PROVIDER_NAMES = {"rke": "RKE1", "rke2": "RKE2"}


def cluster_status(health: dict[str, int]) -> str:
    """One word for a cluster's nodes as last read from its API: ``healthy`` (every member
    Ready), ``degraded`` (some NotReady), ``unknown`` (none read yet), ``empty``."""
    if not health["members"]:
        return "empty"
    if health["not_ready"]:
        return "degraded"
    if health["ready"] == health["members"]:
        return "healthy"
    return "unknown" if not health["ready"] else "degraded"

