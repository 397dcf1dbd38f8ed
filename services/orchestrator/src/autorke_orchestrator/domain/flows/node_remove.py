"""``node.remove``: cordon, drain (evictions honour PodDisruptionBudgets), remove the node
from the cluster and the config, release it, clean the machine. Nothing is removed before
the drain succeeded: a failed drain stops the change with the node cordoned.

The machine's state follows: ``draining`` from the cordon, ``removing`` once drained,
``cleaning`` once it is out of the cluster (its membership released: a machine being
cleaned is no member), ``available`` when clean."""
from __future__ import annotations

from autorke_orchestrator.domain.flow import (
    CLEANUP_MARKS,
    Flow,
    FlowContext,
    Job,
    Marks,
    Targets,
    action,
    approval,
    check,
    cleanup_job,
    first,
    inventory,
    known_machines,
    kube,
    members_of_cluster,
)
from autorke_orchestrator.domain.flows.node_add import STORE_STATE, render, rke_up


def release(ctx: FlowContext, hosts: Targets) -> Job:
    return inventory("inventory.membership.release", cluster=ctx.cluster.name)(ctx, hosts)


def unjoin(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("rke2", "remove", tuple(hosts), timeout_s=600)


def radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    if ctx.cluster.provider == "rke":  # rke up connects to every node
        return sorted(ctx.cluster.nodes), ["node-object", "pods on the nodes", "worker-plane", "certificates",
                                           "cluster.yml", "inventory-membership"]
    return sorted(ctx.targets), ["node-object", "pods on the nodes", "rke2-agent", "inventory-membership"]


GUARD = first(known_machines, members_of_cluster)
DRAIN = kube("drain", timeout_s=300, grace_period_s=30)
COMMON = (
    check("guard", "the nodes are members of this cluster", guard=GUARD),
    approval("approve", "approve removing the nodes"),
    action("cordon", "cordon", kube("cordon"), undo=kube("uncordon"),
           marks=Marks(during="draining", undone="member")),
    action("drain", "drain (PodDisruptionBudgets honoured)", DRAIN,
           irreversible="evicted pods are rescheduled elsewhere; uncordon is the cordon step's undo",
           marks=Marks(after="removing")),
)
CLEANUP = action("cleanup", "clean the machines", cleanup_job, irreversible="removed state cannot be put back",
                 marks=CLEANUP_MARKS)
TAIL = (
    action("release", "release the machines in the inventory", release,
           irreversible="the machine is free; add it again with node.add"),
    CLEANUP,
)

RKE2 = Flow(
    type="node.remove", provider="rke2", policy="manual", validate=GUARD, blast_radius=radius,
    steps=COMMON + (
        action("unjoin", "stop and uninstall the rke2 agent", unjoin,
               irreversible="re-add the node with node.add"),
        action("delete", "delete the node object", kube("delete_node"), irreversible="re-add with node.add"),
    ) + TAIL,
)

RKE1 = Flow(
    type="node.remove", provider="rke", policy="manual", validate=GUARD, blast_radius=radius,
    warnings=lambda ctx: ["rke up --update-only connects to every node of the cluster"],
    steps=COMMON + (
        action("unmember", "take the nodes out of the inventory membership", release,
               irreversible="re-add the node with node.add"),
        action("config", "render cluster.yml without the nodes", render, writes_config=True,
               irreversible="a new version; the previous one can be rolled back"),
        action("rke_up", "rke up --update-only (removes the nodes)", rke_up, writes_config=True,
               irreversible="re-add the node with node.add"),
        STORE_STATE,
        CLEANUP,
    ),
)
