"""``node.add_core``: add etcd and/or controlplane nodes (P4). A dedicated type so a core
role is never added by mistake: it declares the core roles it adds and its gate needs an
admin. RKE1 only here: ``rke up`` (not ``--update-only``, which rke turns off when an
etcd member is added), touching every node."""
from __future__ import annotations

from autorke_common.errors import Invalid
from autorke_orchestrator.domain.flow import (
    CORE_ROLES,
    Flow,
    FlowContext,
    Job,
    Targets,
    Violation,
    action,
    approval,
    check,
    first,
    inventory,
    known_machines,
    not_in_any_cluster,
)
from autorke_orchestrator.domain.flows.node_add import (
    INIT,
    PREFLIGHT,
    RENDER_CONFIG,
    RKE1_READY,
    RKE1_WARNING,
    STORE_STATE,
    rke1_member,
    rke1_radius,
)


def core_roles(ctx: FlowContext) -> Violation | None:
    roles = list(ctx.params.get("roles") or [ctx.params.get("role", "")])
    if not roles or not set(roles) & set(CORE_ROLES) or not set(roles) <= {*CORE_ROLES, "worker"}:
        return Violation("role-not-allowed", f"node.add_core adds etcd/controlplane roles, not {roles}",
                         tuple(ctx.targets), Invalid)
    return None


def assign(ctx: FlowContext, hosts: Targets) -> Job:
    roles = list(ctx.params.get("roles") or [ctx.params["role"]])
    return inventory("inventory.membership.assign", cluster=ctx.cluster.name, roles=roles,
                     labels=ctx.params.get("labels", {}), taints=ctx.params.get("taints", []))(ctx, hosts)


def rke_up(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("rke", "up", (), {}, ("kubeconfig", "cluster_yml", "rkestate"), reports=("rke",), timeout_s=3600)


GUARD = first(known_machines, core_roles, not_in_any_cluster)

RKE1 = Flow(
    type="node.add_core", provider="rke", policy="manual", validate=GUARD, blast_radius=rke1_radius,
    warnings=lambda ctx: [RKE1_WARNING.replace(" --update-only", ""),
                          "adding etcd/controlplane restarts control-plane components"],
    steps=(
        check("guard", "membership (P1) and core-role guard (P4)", guard=GUARD),
        PREFLIGHT,
        approval("approve", "admin approval of core roles", role="admin"),
        INIT,
        rke1_member(assign),
        RENDER_CONFIG,
        action("rke_up", "rke up", rke_up, writes_config=True,
               irreversible="rke cannot un-add a node: remove it with node.remove"),
        STORE_STATE,
        RKE1_READY,
    ),
)
