"""``machine.cleanup``: remove runtime and state from free machines, back to ``available``.
The same P2 guard as init (:data:`~autorke_orchestrator.domain.flows.guards.P2_GUARD`):
never on a member or a machine running Kubernetes."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import CLEANUP_MARKS, Flow, FlowContext, action, approval, cleanup_job
from autorke_orchestrator.domain.flows.guards import FREE_MACHINES, P2_GUARD


def radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    return sorted(ctx.targets), ["container-runtime", "machine-state"]


FLOW = Flow(
    type="machine.cleanup", provider=None, policy="manual", needs_cluster=False,
    validate=FREE_MACHINES,
    blast_radius=radius,
    steps=(
        *P2_GUARD,
        approval("approve", "approve the cleanup"),
        action("cleanup", "remove runtime and state", cleanup_job,
               irreversible="removed state cannot be put back; re-run machine.init instead",
               marks=CLEANUP_MARKS),
    ),
)
