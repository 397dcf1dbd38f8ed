"""The IP pool form: its fields (Calico's IPPool spec, DESIGN.md P7) and the request body
sent to netcfg (``{"name", "spec"}`` in Calico's own field names). Only the form's own
syntax is checked here (a number is a number); every rule about the network (overlaps,
block size, CIDR) is netcfg's, and its answer is shown next to the field it is about."""
from __future__ import annotations

from typing import Any

MODES = ("Never", "Always", "CrossSubnet")
FIELDS = ("name", "cidr", "block_size", "ipip_mode", "vxlan_mode", "nat_outgoing", "node_selector")


def pool_body(form: dict[str, str], *, include_name: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """``(body, errors)`` for a create (``include_name``) or an update."""
    errors: dict[str, str] = {}
    spec: dict[str, Any] = {}
    body: dict[str, Any] = {}
    if include_name:
        name = (form.get("name") or "").strip()
        if not name:
            errors["name"] = "a name is required"
        body["name"] = name
    cidr = (form.get("cidr") or "").strip()
    if not cidr:
        errors["cidr"] = "a CIDR is required, e.g. 10.244.0.0/16"
    spec["cidr"] = cidr
    raw_block = (form.get("block_size") or "").strip()
    if raw_block:
        try:
            spec["blockSize"] = int(raw_block)
        except ValueError:
            errors["block_size"] = "a whole number (IPv4: 20–32)"
    for field, key in (("ipip_mode", "ipipMode"), ("vxlan_mode", "vxlanMode")):
        value = form.get(field) or "Never"
        if value not in MODES:
            errors[field] = f"one of {', '.join(MODES)}"
        spec[key] = value
    spec["natOutgoing"] = form.get("nat_outgoing") in ("on", "true", "1")
    spec["nodeSelector"] = (form.get("node_selector") or "").strip() or "all()"
    body["spec"] = spec
    return body, errors


def form_of(pool: dict[str, Any]) -> dict[str, str]:
    """A pool as the API answers it, back into form values (for editing)."""
    spec = pool.get("spec") if isinstance(pool.get("spec"), dict) else pool
    return {"name": str(pool.get("name", "")), "cidr": str(spec.get("cidr", "")),
            "block_size": str(spec.get("blockSize") or spec.get("block_size") or ""),
            "ipip_mode": str(spec.get("ipipMode") or "Never"), "vxlan_mode": str(spec.get("vxlanMode") or "Never"),
            "nat_outgoing": "on" if spec.get("natOutgoing") else "",
            "node_selector": str(spec.get("nodeSelector") or "all()")}
