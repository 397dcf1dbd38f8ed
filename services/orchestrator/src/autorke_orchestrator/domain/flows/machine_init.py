"""``machine.init``: prepare free machines (container runtime, GPU driver, kernel settings).
P2: refused for a cluster member or a machine showing Kubernetes components, first from
what the inventory knows, then from a live probe, before anything is written."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import (
    Flow, FlowContext, approval, action, check, cleanup_job, first, free_machines, init_job,
    known_machines, preflight_job, probe_clean, probe_job, INIT_MARKS,
)


def radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    profile = ctx.params.get("profile", "container-runtime")
    return sorted(ctx.targets), ["init-profile:" + profile, "container-runtime", "kernel-settings"]


FLOW = Flow(
    type="machine.init", provider=None, policy="manual", needs_cluster=False,
    validate=first(known_machines, free_machines),
    blast_radius=radius,
    steps=(
        check("guard", "not a member, no known Kubernetes components", guard=first(known_machines, free_machines)),
        check("probe", "live probe: no Kubernetes components (P2)", job=probe_job, verify=probe_clean,
              slug="machine-has-k8s-components"),
        check("preflight", "reachable, OS, disk and driver facts", job=preflight_job, slug="preflight-failed"),
        approval("approve", "approve the init"),
        action("init", "run the init profile", init_job, undo=cleanup_job, marks=INIT_MARKS),
    ),
)
