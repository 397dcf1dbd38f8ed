"""``etcd.restore``: restore a snapshot on the etcd nodes only (P6). RKE1's
``rke etcd snapshot-restore`` cleans every node and rebuilds the whole cluster; for an
etcd-only failure AutoRKE instead stops etcd, restores the data directory and restarts
etcd on each etcd node, checks the member health, then reconciles by reading the nodes
through the API (no SSH to any other node)."""
from __future__ import annotations

from autorke_common.errors import Invalid
from autorke_orchestrator.domain.flow import Flow, FlowContext, Job, Targets, Violation, action, approval, check
from autorke_orchestrator.domain.flows.etcd_snapshot import etcd_nodes, has_etcd


def named_snapshot(ctx: FlowContext) -> Violation | None:
    if not ctx.params.get("snapshot_name"):
        return Violation("invalid-request", "params.snapshot_name is required", refusal=Invalid)
    return has_etcd(ctx)


def script(name: str, timeout_s: float = 600):
    def factory(ctx: FlowContext, hosts: Targets) -> Job:
        return Job("script", name, tuple(hosts), {"args": [ctx.params["snapshot_name"]]}, timeout_s=timeout_s)
    return factory


def etcd_only(ctx: FlowContext, hosts: Targets) -> Targets:
    return etcd_nodes(ctx)


def reconcile(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("kube", "list_nodes", (), {}, ("kubeconfig",), reports=("kube-api",), timeout_s=120)


FLOW = Flow(
    type="etcd.restore", provider=None, policy="manual", validate=named_snapshot,
    blast_radius=lambda ctx: (etcd_nodes(ctx), ["etcd member", "etcd data directory"]),
    steps=(
        check("guard", "snapshot named, cluster has etcd nodes", guard=named_snapshot),
        check("snapshot_present", "the snapshot exists on every etcd node", job=script("etcd_snapshot_check"),
              slug="snapshot-missing", select=etcd_only),
        approval("approve", "admin approval of the restore", role="admin"),
        action("stop", "stop etcd on the etcd nodes", script("etcd_stop"), undo=script("etcd_start"), select=etcd_only),
        action("restore", "restore the data directory", script("etcd_restore", 1800), select=etcd_only,
               irreversible="the previous data directory is kept beside it (.pre-restore) for a manual return"),
        action("start", "start etcd", script("etcd_start"), undo=script("etcd_stop"), select=etcd_only),
        check("health", "etcd members healthy", job=script("etcd_health", 120), slug="etcd-unhealthy",
              select=etcd_only),
        action("reconcile", "read the nodes back through the API", reconcile, irreversible="read-only"),
    ),
)
