"""P2, written once: ``machine.init`` and ``machine.cleanup`` run only on free machines.
They refuse a cluster member or a machine the inventory knows to run Kubernetes, first
from what the orchestrator knows (at plan time and again as the first step), then from a
live probe of every target, before anything is written to a machine."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import check, first, free_machines, known_machines, probe_clean, probe_job

#: What the inventory knows: known machines, none a member, none with Kubernetes components.
FREE_MACHINES = first(known_machines, free_machines)

#: The first two steps of every flow that writes to free machines.
P2_GUARD = (
    check("guard", "not a member, no known Kubernetes components", guard=FREE_MACHINES),
    check("probe", "live probe: no Kubernetes components (P2)", job=probe_job, verify=probe_clean,
          slug="machine-has-k8s-components"),
)
