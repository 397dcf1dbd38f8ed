"""Every change type the orchestrator knows, by type and cluster provider."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import Flow
from autorke_orchestrator.domain.flows import (
    config_import,
    config_rollback,
    config_update,
    etcd_restore,
    etcd_snapshot,
    ippool,
    machine_cleanup,
    machine_init,
    node_add,
    node_add_core,
    node_remove,
    node_update,
)

FLOWS: dict[tuple[str, str | None], Flow] = {
    ("machine.init", None): machine_init.FLOW,
    ("machine.cleanup", None): machine_cleanup.FLOW,
    ("node.add", "rke2"): node_add.RKE2,
    ("node.add", "rke"): node_add.RKE1,
    ("node.add_core", "rke"): node_add_core.RKE1,
    ("node.remove", "rke2"): node_remove.RKE2,
    ("node.remove", "rke"): node_remove.RKE1,
    ("node.update", None): node_update.FLOW,
    ("etcd.snapshot", None): etcd_snapshot.FLOW,
    ("etcd.restore", None): etcd_restore.FLOW,
    **{(f.type, None): f for f in ippool.FLOWS.values()},
    ("config.update", None): config_update.FLOW,
    ("config.import", None): config_import.FLOW,
    ("config.rollback", None): config_rollback.FLOW,
}
TYPES = sorted({t for t, _ in FLOWS})
#: node.add with the flat-network steps, when its node profile asks for them
FLAT_NETWORK = {"rke2": node_add.RKE2_FLAT, "rke": node_add.RKE1_FLAT}


def flow_for(change_type: str, provider: str | None, params: dict | None = None) -> Flow | None:
    if change_type == "node.add" and ((params or {}).get("resolved") or {}).get("network"):
        return FLAT_NETWORK.get(provider)
    return FLOWS.get((change_type, provider)) or FLOWS.get((change_type, None))
