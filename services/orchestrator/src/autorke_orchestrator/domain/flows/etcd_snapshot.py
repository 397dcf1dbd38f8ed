"""``etcd.snapshot``: take a snapshot on each etcd node of the cluster, and nothing else
(P6). Not through ``rke etcd snapshot-save``, whose run needs every node of cluster.yml in
the fence; a script job per etcd node does the same work on the etcd nodes only."""
from __future__ import annotations

from autorke_common.errors import Invalid
from autorke_orchestrator.domain.flow import Flow, FlowContext, Job, Targets, Violation, action, approval, check


def etcd_nodes(ctx: FlowContext) -> list[str]:
    return ctx.cluster.nodes_with("etcd")


def has_etcd(ctx: FlowContext) -> Violation | None:
    if not etcd_nodes(ctx):
        return Violation("no-etcd-nodes", f"cluster {ctx.cluster.name} has no etcd node in the inventory")
    if ctx.targets and set(ctx.targets) - set(etcd_nodes(ctx)):
        return Violation("role-not-allowed", "etcd changes target etcd nodes only",
                         tuple(sorted(set(ctx.targets) - set(etcd_nodes(ctx)))), Invalid)
    return None


def snapshot(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "etcd_snapshot", tuple(hosts), {"args": [ctx.params.get("snapshot_name", "")]},
               timeout_s=900)


def remove_snapshot(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "etcd_snapshot_delete", tuple(hosts), {"args": [ctx.params.get("snapshot_name", "")]})


FLOW = Flow(
    type="etcd.snapshot", provider=None, policy="auto", validate=has_etcd,
    blast_radius=lambda ctx: (etcd_nodes(ctx), ["etcd snapshot files"]),
    steps=(
        check("guard", "the cluster has etcd nodes", guard=has_etcd),
        approval("approve", "approve the snapshot"),
        action("snapshot", "snapshot on each etcd node", snapshot, undo=remove_snapshot,
               select=lambda c, t: etcd_nodes(c)),
    ),
)
