"""Plan on create: validate a change request against its flow and what the orchestrator
knows, and build the change with its steps, blast radius and config diff. Nothing is run
here; a refused request raises a domain refusal with the problem slug of DESIGN.md
(:class:`~autorke_common.errors.Invalid`, :class:`~autorke_common.errors.Missing`, or the
refusal of the flow's :class:`~autorke_orchestrator.domain.flow.Violation`); params that
break their change type's rules raise :class:`~autorke_orchestrator.domain.params.InvalidParams`."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from autorke_common.errors import Invalid, Missing
from autorke_orchestrator.domain.flow import ClusterView, Flow, FlowContext, MachineView
from autorke_orchestrator.domain.flows import TYPES, flow_for
from autorke_orchestrator.domain.model import Change, Endpoint, Step
from autorke_orchestrator.domain.params import validated


@dataclass
class ChangeRequest:
    type: str
    cluster: str | None
    targets: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    policy: str | None = None


def resolve_flow(request: ChangeRequest, cluster: ClusterView | None) -> Flow:
    if request.type not in TYPES:
        raise Invalid("unknown-change-type", f"{request.type!r} is not one of {', '.join(TYPES)}")
    if cluster is None and request.cluster:
        raise Missing("not-found", f"cluster {request.cluster!r} does not exist")
    flow = flow_for(request.type, cluster.provider if cluster else None)
    if flow is None:
        raise Invalid("flow-not-supported", f"{request.type} is not supported on "
                      f"{cluster.provider if cluster else 'no'} clusters")
    if flow.needs_cluster and cluster is None:
        raise Invalid("invalid-request", f"{request.type} needs a cluster")
    return flow


def context(request: ChangeRequest, cluster: ClusterView | None, machines: dict[str, MachineView]) -> FlowContext:
    """The flow sees the params validated and normalised (and the change stores those)."""
    return FlowContext(request.type, cluster, list(request.targets), validated(request.type, request.params),
                       machines)


def plan(request: ChangeRequest, flow: Flow, ctx: FlowContext, requested_by: str,
         endpoints: dict[str, Endpoint]) -> Change:
    if len(set(request.targets)) != len(request.targets):
        raise Invalid("invalid-request", "targets are listed twice")
    violation = flow.validate(ctx)
    if violation:
        raise violation.refused()
    hosts, components = flow.blast_radius(ctx)
    steps = [Step(s.id, s.name, s.kind, i) for i, s in enumerate(flow.steps)]
    return Change(
        id=f"chg-{uuid.uuid4().hex[:12]}", type=request.type, cluster=request.cluster,
        targets=list(request.targets), params=dict(ctx.params), requested_by=requested_by,
        policy=request.policy or flow.policy, steps=steps, blast_hosts=sorted(set(hosts)),
        blast_components=list(components), config_diff=flow.config_diff(ctx), warnings=flow.warnings(ctx),
        endpoints={h: e for h, e in endpoints.items() if h in set(hosts)},
    )
