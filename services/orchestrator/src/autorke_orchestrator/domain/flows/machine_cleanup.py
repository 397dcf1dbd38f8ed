"""``machine.cleanup``: remove runtime and state from free machines, back to ``available``.
The same P2 guard as init: never on a member or a machine running Kubernetes."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import (
    Flow, FlowContext, action, approval, check, cleanup_job, first, free_machines, known_machines,
    probe_clean, probe_job, CLEANUP_MARKS,
)


def radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    return sorted(ctx.targets), ["container-runtime", "machine-state"]


FLOW = Flow(
    type="machine.cleanup", provider=None, policy="manual", needs_cluster=False,
    validate=first(known_machines, free_machines),
    blast_radius=radius,
    steps=(
        check("guard", "not a member, no known Kubernetes components", guard=first(known_machines, free_machines)),
        check("probe", "live probe: no Kubernetes components (P2)", job=probe_job, verify=probe_clean,
              slug="machine-has-k8s-components"),
        approval("approve", "approve the cleanup"),
        action("cleanup", "remove runtime and state", cleanup_job,
               irreversible="removed state cannot be put back; re-run machine.init instead",
               marks=CLEANUP_MARKS),
    ),
)
