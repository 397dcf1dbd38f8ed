"""What ``node.add`` gives each new node, decided once when the change is planned: the
node profile (the one named, ``default`` unless named, or the change's own custom
profile), the cluster's CMDB label mapping, and each machine's CMDB facts make every
node's labels, taints and kubelet arguments; the profile's flat-network option and the
change's ``network`` choice make the ticket's pool and route reflectors. The result is
kept in the change's params (``resolved``), so the plan shows it, the approver approves
it, and a profile edited while the change runs does not change what it does.

A custom profile is checked here the way the inventory checks a stored one, before any
row exists: a bad one refuses the change with the field named."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autorke_common.errors import Invalid, Missing
from autorke_common.node_profiles import (
    DEFAULT,
    DEFAULT_MAPPING,
    DEFAULT_PROFILE,
    LabelMapping,
    MachineFacts,
    NodeProfile,
    check_for_provider,
    node_spec,
    parse,
)
from autorke_orchestrator.domain.flow import MachineView


@dataclass(frozen=True)
class Document:
    """The latest version of a profile or mapping the inventory announced."""

    name: str
    version: int
    spec: dict[str, Any]


def _profile(params: dict[str, Any], provider: str, stored: Document | None) -> tuple[NodeProfile, dict]:
    if params.get("custom_profile") is not None:
        field = "params.custom_profile"
        profile = parse("node-profile", params["custom_profile"], field=field)
        source = {"name": "custom", "version": None}
    else:
        field, name = "params.node_profile", params.get("node_profile") or DEFAULT
        if stored is None and name != DEFAULT:
            raise Missing("not-found", f"the cluster has no node profile {name!r}", field=field)
        profile = parse("node-profile", stored.spec, field=field) if stored else DEFAULT_PROFILE
        source = {"name": name, "version": stored.version if stored else 0}
    check_for_provider(profile, provider, field=field)
    return profile, source


def _network(params: dict[str, Any], profile: NodeProfile, mapping: LabelMapping,
             targets: list[str]) -> dict[str, Any] | None:
    choice, net = params.get("network") or {}, profile.network
    if not (net.enabled if choice.get("enabled") is None else choice["enabled"]):
        return None
    cidr = choice.get("cidr") or net.cidr
    if not cidr:
        raise Invalid("invalid-params", "the node profile asks for a flat network: give its pool's CIDR "
                      "(params.network.cidr)", field="params.network.cidr")
    if not mapping.rack:
        raise Invalid("invalid-params", "a flat network peers nodes with their rack's switch, but the "
                      "cluster's label mapping labels no rack", field="params.network")
    name = choice.get("pool_name") or f"{net.pool_prefix}-{cidr.replace('.', '-').replace('/', '-').replace(':', '-')}"
    return {"pool_name": name[:253], "cidr": cidr, "block_size": net.block_size,
            "route_reflectors": sorted(targets)[:net.route_reflectors], "as_numbers": dict(net.as_numbers),
            "required": net.required, "rack_label": mapping.rack}


def resolve(params: dict[str, Any], provider: str, targets: list[str], machines: dict[str, MachineView],
            profile_doc: Document | None, mapping_doc: Document | None) -> dict[str, Any]:
    """``params`` with ``resolved`` (and the init profile) filled in; raises a refusal
    naming the field."""
    profile, source = _profile(params, provider, profile_doc)
    mapping = parse("label-mapping", mapping_doc.spec) if mapping_doc else DEFAULT_MAPPING
    extra_labels, extra_taints = params.get("labels") or {}, params.get("taints") or []
    nodes = {}
    for host in targets:
        m = machines.get(host)
        spec = node_spec(profile, mapping, MachineFacts.model_validate(m.facts if m else {}))
        spec["labels"] = {**spec["labels"], **extra_labels}
        keys = {t["key"] for t in extra_taints}
        spec["taints"] = [t for t in spec["taints"] if t["key"] not in keys] + list(extra_taints)
        nodes[host] = spec
    return {**params, "profile": params.get("profile") or profile.init_profile, "resolved": {
        "profile": source, "mapping_version": mapping_doc.version if mapping_doc else 0,
        "nodes": nodes, "network": _network(params, profile, mapping, targets)}}
