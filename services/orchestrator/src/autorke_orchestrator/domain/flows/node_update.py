"""``node.update``: labels and taints of the named nodes only, in the cluster and in the
inventory. The previous labels are known from the inventory, so the undo puts them back."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import (
    Flow,
    FlowContext,
    Job,
    Targets,
    action,
    approval,
    check,
    first,
    inventory,
    known_machines,
    kube,
    members_of_cluster,
)


def label(ctx: FlowContext, hosts: Targets) -> Job:
    return kube("label", labels=ctx.params.get("labels", {}))(ctx, hosts)


def unlabel(ctx: FlowContext, hosts: Targets) -> Job:
    keys = ctx.params.get("labels", {})
    old = {k: ctx.machines[hosts[0]].labels.get(k) for k in keys} if hosts else {}
    return kube("label", labels=old)(ctx, hosts)


def taint(ctx: FlowContext, hosts: Targets) -> Job:
    return kube("taint", taints=ctx.params.get("taints", []), remove=ctx.params.get("remove_taints", []))(ctx, hosts)


def untaint(ctx: FlowContext, hosts: Targets) -> Job:
    return kube("taint", taints=ctx.machines[hosts[0]].taints if hosts else [],
                remove=[t["key"] for t in ctx.params.get("taints", [])])(ctx, hosts)


def record(ctx: FlowContext, hosts: Targets) -> Job:
    return inventory("inventory.node.update", cluster=ctx.cluster.name, labels=ctx.params.get("labels"),
                     taints=ctx.params.get("taints"))(ctx, hosts)


def has_taints(ctx: FlowContext, hosts: Targets) -> Targets:
    return hosts if ctx.params.get("taints") or ctx.params.get("remove_taints") else []


def has_labels(ctx: FlowContext, hosts: Targets) -> Targets:
    return hosts if ctx.params.get("labels") else []


GUARD = first(known_machines, members_of_cluster)

FLOW = Flow(
    type="node.update", provider=None, policy="manual", validate=GUARD,
    blast_radius=lambda ctx: (sorted(ctx.targets), ["node labels", "node taints", "inventory-membership"]),
    config_diff=lambda ctx: "\n".join([f"+label {k}={v}" for k, v in sorted(ctx.params.get("labels", {}).items())]
                                      + [f"+taint {t}" for t in ctx.params.get("taints", [])]),
    steps=(
        check("guard", "the nodes are members of this cluster", guard=GUARD),
        approval("approve", "approve the node update"),
        action("labels", "set labels", label, undo=unlabel, select=has_labels),
        action("taints", "set taints", taint, undo=untaint, select=has_taints),
        action("record", "record in the inventory", record,
               irreversible="the inventory keeps every version of the node's labels"),
    ),
)
