"""``etcd.snapshot``: take a snapshot on each etcd node of the cluster, and nothing else
(P6). Not through ``rke etcd snapshot-save``, whose run needs every node of cluster.yml in
the fence; a script job per etcd node does the same work on the etcd nodes only.

A snapshot is a backup someone may need for a restore, so this change never replaces or
removes one it did not make: the name must be free on every etcd node (``name_free``
lists their snapshots before anything is written, and refuses the change with
``snapshot-exists``); each node's script marks the file it writes as made by this change
(and refuses a name taken meanwhile), and the compensation runs only on the nodes where
the step made its file or may have (no answer), where its script removes the file only
when its mark names this change."""
from __future__ import annotations

from typing import Any

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


def list_snapshots(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "etcd_snapshot_list", tuple(hosts), timeout_s=120)


def name_free(ctx: FlowContext, results: dict[str, dict[str, Any]]) -> Violation | None:
    """No etcd node keeps a snapshot of the requested name (one this change would replace
    in a restore, or remove when it is cancelled)."""
    name = ctx.params.get("snapshot_name")
    taken = sorted(h for h, r in results.items()
                   if isinstance(r.get("snapshots"), list) and name in r["snapshots"])
    if taken:
        return Violation("snapshot-exists", f"a snapshot named {name} exists already on {', '.join(taken)}; "
                         "an existing snapshot is never replaced: choose another name", tuple(taken))
    return None


def snapshot(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "etcd_snapshot", tuple(hosts), {"args": [ctx.params.get("snapshot_name", "")]},
               timeout_s=900)


def made_here(ctx: FlowContext, hosts: Targets) -> Targets:
    """The hosts where the snapshot step made its file, or may have (it gave no answer:
    cut off, unreachable); not those whose script found the name taken (``created``
    false: that file is someone else's)."""
    reported = ctx.results.get("snapshot", {})
    def created(host: str) -> Any:
        answer = (reported.get(host) or {}).get("snapshot")
        return answer.get("created") if isinstance(answer, dict) else None
    return [h for h in hosts if created(h) is not False]


def remove_snapshot(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "etcd_snapshot_delete", tuple(made_here(ctx, hosts)),
               {"args": [ctx.params.get("snapshot_name", "")]})


FLOW = Flow(
    type="etcd.snapshot", provider=None, policy="auto", validate=has_etcd,
    blast_radius=lambda ctx: (etcd_nodes(ctx), ["etcd snapshot files"]),
    steps=(
        check("guard", "the cluster has etcd nodes", guard=has_etcd),
        check("name_free", "no etcd node has a snapshot of that name", job=list_snapshots, verify=name_free,
              select=lambda c, t: etcd_nodes(c)),
        approval("approve", "approve the snapshot"),
        action("snapshot", "snapshot on each etcd node", snapshot, undo=remove_snapshot,
               select=lambda c, t: etcd_nodes(c)),
    ),
)
