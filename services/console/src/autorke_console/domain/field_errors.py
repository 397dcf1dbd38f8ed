"""Where a form shows an API error: a problem+json answer mapped to the form field it is
about, so "overlaps the host network" appears next to the CIDR box, not in a banner.

Sources, in order: the ``errors`` list of an ``invalid-request`` problem (``loc`` names
the field), an explicit ``field`` (or ``fields``) extension, then the stable problem slugs
whose field is known (DESIGN.md P7). Anything else is a form-level error (key ``""``).
"""
from __future__ import annotations

from typing import Any

SLUG_FIELDS = {
    "pool-overlaps-host-network": "cidr",
    "pool-overlaps-service-cidr": "cidr",
    "pool-overlaps-cluster-cidr": "cidr",
    "pool-outside-cluster-cidr": "cidr",
    "pool-overlaps-pool": "cidr",
    "invalid-cidr": "cidr",
    "cidr-immutable": "cidr",
    "invalid-block-size": "block_size",
    "block-size-immutable": "block_size",
    "pool-exists": "name",
    "invalid-pool-name": "name",
}
_ALIASES = {"blockSize": "block_size", "block_size": "block_size", "ipipMode": "ipip_mode",
            "vxlanMode": "vxlan_mode", "natOutgoing": "nat_outgoing", "nodeSelector": "node_selector"}


def _field(name: str) -> str:
    return _ALIASES.get(name, name)


def slug_of(problem: dict[str, Any]) -> str:
    return str(problem.get("type", "")).rsplit("/", 1)[-1]


def field_errors(problem: dict[str, Any] | None) -> dict[str, str]:
    if not problem:
        return {}
    out: dict[str, str] = {}
    for error in problem.get("errors") or []:
        loc = [p for p in error.get("loc", []) if isinstance(p, str) and p not in ("body", "query", "spec")]
        key = _field(loc[-1]) if loc else ""
        out.setdefault(key, str(error.get("msg") or error.get("message") or "invalid"))
    message = str(problem.get("detail") or problem.get("title") or "invalid")
    explicit = problem.get("field") or problem.get("fields")
    if isinstance(explicit, str):
        out.setdefault(_field(explicit), message)
    elif isinstance(explicit, list):
        for name in explicit:
            out.setdefault(_field(str(name)), message)
    slug = slug_of(problem)
    if slug in SLUG_FIELDS:
        out.setdefault(SLUG_FIELDS[slug], message)
    if not out:
        out[""] = message
    return out
