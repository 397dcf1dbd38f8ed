"""``machine.init``: prepare free machines (container runtime, GPU driver, kernel settings).
P2: refused for a cluster member or a machine showing Kubernetes components, first from
what the inventory knows, then from a live probe, before anything is written
(:data:`~autorke_orchestrator.domain.flows.guards.P2_GUARD`)."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import (
    INIT_MARKS,
    Flow,
    FlowContext,
    action,
    approval,
    check,
    cleanup_job,
    init_job,
    preflight_job,
)
from autorke_orchestrator.domain.flows.guards import FREE_MACHINES, P2_GUARD


def radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    profile = ctx.params.get("profile", "container-runtime")
    return sorted(ctx.targets), ["init-profile:" + profile, "container-runtime", "kernel-settings"]


FLOW = Flow(
    type="machine.init", provider=None, policy="manual", needs_cluster=False,
    validate=FREE_MACHINES,
    blast_radius=radius,
    steps=(
        *P2_GUARD,
        check("preflight", "reachable, OS, disk and driver facts", job=preflight_job, slug="preflight-failed"),
        approval("approve", "approve the init"),
        action("init", "run the init profile", init_job, undo=cleanup_job, marks=INIT_MARKS),
    ),
)
