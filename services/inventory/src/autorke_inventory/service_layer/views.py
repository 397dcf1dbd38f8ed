"""The public machine JSON (DESIGN.md section 2): CMDB data and gathered facts folded into
four facets — hardware, software, kubernetes, network. Fields may be added, never renamed:
the console and other platforms code against it."""
from __future__ import annotations

from typing import Any

CONTAINER_NETWORK_PREFIXES = ("projectcalico.org/", "calico/", "network.autorke.dev/")


def _merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (extra or {}).items():
        if value is not None:
            out[key] = value
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def node_view(membership: Any | None) -> dict[str, Any] | None:
    """A member's node as its cluster's Kubernetes API last showed it; ``status`` is
    ``Ready`` / ``NotReady`` / ``Unknown`` (never observed, or not registered)."""
    if membership is None:
        return None
    detail = getattr(membership, "node_detail", None) or {}
    observed = getattr(membership, "node_observed_at", None)
    registered = bool(detail.get("registered", True)) if observed else None
    ready = membership.node_ready if observed else None
    status = "Unknown" if not registered or ready is None else (
        "Ready" if ready == "True" else "NotReady")
    return {"name": membership.node_name, "status": status, "ready": ready,
            "registered": registered, "reason": detail.get("reason"),
            "message": detail.get("message"), "problems": list(detail.get("problems") or []),
            "kubelet_version": membership.kubelet_version,
            "unschedulable": bool(membership.node_unschedulable) if observed else None,
            "observed_at": _iso(observed), "changed_at": _iso(membership.node_changed_at)}


def machine_view(row: Any, membership: Any | None) -> dict[str, Any]:
    cmdb = row.cmdb or {}
    facts = row.facts or {}
    hw = cmdb.get("hardware") or {}
    os_ = cmdb.get("os") or {}
    net = cmdb.get("network") or {}
    ssh = cmdb.get("ssh") or {}
    roles = membership.roles.split(",") if membership and membership.roles else []
    labels = dict(membership.labels or {}) if membership else {}
    taints = list(membership.taints or []) if membership else []
    cluster = membership.cluster if membership else None
    hardware = _merge({
        "vendor": hw.get("vendor"), "model": hw.get("model"), "serial": hw.get("serial"),
        "cpu": hw.get("cpu"), "memory_gb": hw.get("memory_gb"),
        "gpu": {"model": row.gpu_model, "count": row.gpu_count,
                "memory_mb": (hw.get("gpu") or {}).get("memory_mb")},
        "disks": hw.get("disks") or [],
    }, facts.get("hardware"))
    software = _merge({
        "os": os_.get("name") or os_.get("id"), "os_version": os_.get("version"),
        "kernel": os_.get("kernel"), "container_runtime": None, "gpu_driver": None,
    }, facts.get("software"))
    node = node_view(membership)
    kubernetes = _merge({
        "cluster": cluster, "roles": roles, "labels": labels, "taints": taints,
        "member_since": membership.since.isoformat()
        if membership and membership.since else None,
    }, facts.get("kubernetes"))
    # the API's observation, not the facts script's (it probes the machine, not the API)
    kubernetes["node_condition"] = node["status"] if node else None
    kubernetes["node"] = node
    network = _merge({
        "ip": row.ip, "management_ip": net.get("management_ip"), "data_ip": net.get("data_ip"),
        "bmc_ip": net.get("bmc_ip"), "rack": row.rack, "rack_unit": net.get("rack_unit"),
        "site": row.site,
        "container_network_labels": {k: v for k, v in labels.items()
                                     if k.startswith(CONTAINER_NETWORK_PREFIXES)},
        "ssh": {"address": ssh.get("address"), "port": ssh.get("port"), "user": ssh.get("user"),
                "host_key_fingerprint": ssh.get("host_key_fingerprint"),
                "bastion": (ssh.get("bastion") or {}).get("hostname")
                if isinstance(ssh.get("bastion"), dict) else ssh.get("bastion")},
    }, facts.get("network"))
    return {
        "id": row.id, "hostname": row.hostname, "ip": row.ip, "state": row.state,
        "cluster": cluster, "roles": roles, "labels": labels, "taints": taints,
        "hardware": hardware, "software": software, "kubernetes": kubernetes,
        "network": network,
        "source": row.source, "environment": cmdb.get("environment"),
        "owner": cmdb.get("owner") or {}, "cmdb_labels": cmdb.get("labels") or {},
        "conflicts": row.conflicts or [],
        "facts_at": row.facts_at.isoformat() if row.facts_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "version": row.version,
    }
