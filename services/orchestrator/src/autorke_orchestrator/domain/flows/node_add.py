"""``node.add``: add worker nodes to a cluster (P4: ``worker`` only; core roles go through
``node.add_core``). RKE2: each new node joins by itself, so only the new nodes are touched.
RKE1: ``rke up --update-only`` connects to every node of the cluster, so the blast radius
honestly lists all of them and the plan says what rke does to them.

What each node gets (labels from its node profile and the CMDB, taints, kubelet arguments)
was decided when the change was planned (:mod:`autorke_orchestrator.domain.node_specs`,
``params.resolved``) and is what the plan showed. When the profile asks for a flat
network, the ticket's steps follow the join (:mod:`.flat_network`)."""
from __future__ import annotations

from dataclasses import replace

from autorke_common.errors import Invalid
from autorke_orchestrator.domain.flow import (
    INIT_MARKS,
    Flow,
    FlowContext,
    Job,
    JobFactory,
    Marks,
    StepSpec,
    Targets,
    Violation,
    action,
    approval,
    check,
    cleanup_job,
    first,
    init_job,
    inventory,
    known_machines,
    kube,
    needs_init,
    not_in_any_cluster,
    preflight_job,
)
from autorke_orchestrator.domain.flows import flat_network

RKE1_WARNING = ("rke up --update-only connects to every node of the cluster, redeploys certificates "
                "on each, and uncordons workers that were cordoned")


def worker_only(ctx: FlowContext) -> Violation | None:
    roles = ctx.params.get("roles") or [ctx.params.get("role", "worker")]
    if list(roles) != ["worker"]:
        return Violation("role-not-allowed", f"node.add adds workers only, not {roles}; "
                         "etcd and controlplane need a node.add_core change and an admin approval",
                         tuple(ctx.targets), Invalid)
    return None


def joinable(ctx: FlowContext) -> Violation | None:
    """RKE2: a node joins with the server's address and node-token, both registered with
    the cluster in the inventory (the token sealed)."""
    if not (ctx.cluster.join_address and ctx.cluster.join_token_sealed):
        return Violation("cluster-not-joinable", f"cluster {ctx.cluster.name} has no join address and token "
                         "in the inventory; register them (join_address, join_token) first")
    return None


def spec(ctx: FlowContext, host: str) -> dict:
    """What ``host`` gets; a change planned before node profiles: its params' labels."""
    nodes = (ctx.params.get("resolved") or {}).get("nodes") or {}
    return nodes.get(host) or {"labels": ctx.params.get("labels", {}), "taints": ctx.params.get("taints", []),
                               "kubelet_args": []}


def join(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("rke2", "join", tuple(hosts), {
        "server": ctx.cluster.join_address, "labels": {}, "taints": [],
        "nodes": {h: {k: spec(ctx, h)[k] for k in ("labels", "taints", "kubelet_args")} for h in hosts}},
        ("token",), timeout_s=600)


def unjoin(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("rke2", "remove", tuple(hosts), timeout_s=600)


def rke_up(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("rke", "up_update_only", (), {}, ("kubeconfig", "cluster_yml", "rkestate"),
               reports=("rke",), timeout_s=3600)


def store_state(ctx: FlowContext, hosts: Targets) -> Job:
    """The rkestate the rke run wrote (sealed by the executor) becomes a new version in the
    inventory, so the next rke run starts from it."""
    sealed = ctx.results.get("rke_up", {}).get("rke", {}).get("rkestate")
    return Job("inventory", "inventory.config.store", (), {
        "cluster": ctx.cluster.name, "kind": "cluster.rkestate", "content_sealed": sealed,
        "comment": "written by rke up"}, service="inventory", reports=("config",))


def assign(ctx: FlowContext, hosts: Targets) -> Job:
    job = inventory("inventory.membership.assign", cluster=ctx.cluster.name, roles=["worker"])(ctx, hosts)
    return Job(job.kind, job.action, job.hosts, {**job.params, "per_host": {
        h: {"labels": spec(ctx, h)["labels"], "taints": spec(ctx, h)["taints"]} for h in hosts}},
        service=job.service)


def release(ctx: FlowContext, hosts: Targets) -> Job:
    return inventory("inventory.membership.release", cluster=ctx.cluster.name)(ctx, hosts)


def render(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("inventory", "inventory.config.store", (), {"cluster": ctx.cluster.name, "kind": "cluster.yml",
               "render": True}, service="inventory", reports=("config",))


def sync_labels(ctx: FlowContext, hosts: Targets) -> Job:
    return kube("label", labels={}, node_labels={h: spec(ctx, h)["labels"] for h in hosts})(ctx, hosts)


def unlabel(ctx: FlowContext, hosts: Targets) -> Job:
    return kube("label", labels={}, node_labels={h: dict.fromkeys(spec(ctx, h)["labels"]) for h in hosts})(
        ctx, hosts)


def rke2_radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    return sorted(ctx.targets), ["rke2-agent", "kubelet", "node-object", "inventory-membership"]


def rke1_radius(ctx: FlowContext) -> tuple[list[str], list[str]]:
    return sorted(set(ctx.targets) | set(ctx.cluster.nodes)), [
        "worker-plane", "certificates (every node)", "cluster.yml", "cluster.rkestate", "inventory-membership"]


def _node_lines(ctx: FlowContext, host: str, indent: str) -> list[str]:
    node = spec(ctx, host)
    lines = [f"+{indent}node-label: {k}={v}" for k, v in sorted(node["labels"].items())]
    lines += [f"+{indent}node-taint: {t['key']}={t.get('value', '')}:{t.get('effect', 'NoSchedule')}"
              for t in node["taints"]]
    return lines + [f"+{indent}kubelet-arg: {a}" for a in node.get("kubelet_args", [])]


def _profile_line(ctx: FlowContext) -> list[str]:
    source = (ctx.params.get("resolved") or {}).get("profile")
    if not source:
        return []
    version = "" if source.get("version") is None else f" v{source['version']}"
    return [(f"# node profile {source['name']}{version}, label mapping "
            f"v{ctx.params['resolved'].get('mapping_version', 0)}")]


def rke2_diff(ctx: FlowContext) -> str:
    lines = [*_profile_line(ctx), "--- /etc/rancher/rke2/config.yaml (absent)",
             "+++ /etc/rancher/rke2/config.yaml (per new node)",
             f"+server: {ctx.cluster.join_address}", "+token: <sealed>"]
    for h in sorted(ctx.targets):
        lines += [f"+# {h}", f"+node-name: {h}", *_node_lines(ctx, h, "")]
    return "\n".join(lines + flat_network.diff(ctx))


def rke1_diff(ctx: FlowContext) -> str:
    lines = [*_profile_line(ctx), "--- cluster.yml (current)", "+++ cluster.yml (rendered by the inventory)",
             " nodes:"]
    for h in sorted(ctx.targets):
        node = spec(ctx, h)
        lines += [f"+- hostname_override: {h}", "+  role: [worker]"]
        lines += [f"+  labels: {{{k}: {v}}}" for k, v in sorted(node["labels"].items())]
        lines += [f"+  taints: {{key: {t['key']}, value: {t.get('value', '')}, effect: {t['effect']}}}"
                  for t in node["taints"]]
    return "\n".join(lines + flat_network.diff(ctx))


# -- steps node.add_core takes as they are (its rke_up and gate differ) -------------------
PREFLIGHT = check("preflight", "preflight on the new nodes", job=preflight_job, slug="preflight-failed")
INIT = action("init", "init the nodes that need it", init_job, undo=cleanup_job, select=needs_init,
              marks=INIT_MARKS)
RENDER_CONFIG = action("config", "render and version cluster.yml", render, writes_config=True,
                       irreversible="a new version; the previous one stays and can be rolled back")
STORE_STATE = action("state", "version the new cluster.rkestate in the inventory", store_state,
                     writes_config=True, irreversible="a new version; the previous one can be rolled back")
RKE1_READY = action("ready", "wait until the nodes are Ready", kube("wait_ready", timeout_s=600),
                    irreversible="read-only", marks=Marks(after="member"))


def rke1_member(assign: JobFactory) -> StepSpec:
    """RKE1: a member from here on (cluster.yml is rendered from the membership), but
    joining until rke up has registered it and it is Ready."""
    return action("member", "record membership in the inventory", assign, undo=release,
                  marks=Marks(during="joining", undone="ready"))


GUARD = first(known_machines, worker_only, not_in_any_cluster)
RKE2_GUARD = first(GUARD, joinable)

RKE2 = Flow(
    type="node.add", provider="rke2", policy="manual", validate=RKE2_GUARD, blast_radius=rke2_radius,
    config_diff=rke2_diff,
    steps=(
        check("guard", "membership (P1) and role (P4) guard", guard=RKE2_GUARD),
        PREFLIGHT,
        approval("approve", "approve adding the nodes"),
        INIT,
        # undone: the agent stopped and uninstalled, then its Node object deleted (a Node
        # deleted while its agent runs is registered again)
        action("join", "rke2 agent join, per node", join, undo=unjoin, undo_then=(kube("delete_node"),),
               marks=Marks(during="joining", undone="ready")),
        # a joining agent registers its Node by itself, some time after the join: labels
        # are synced once the nodes are there and Ready
        action("ready", "wait until the nodes are Ready", kube("wait_ready", timeout_s=300),
               irreversible="read-only"),
        action("labels", "sync labels", sync_labels, undo=unlabel),
        action("member", "record membership in the inventory", assign, undo=release,
               marks=Marks(after="member", undone="joining")),
    ),
)

RKE1 = Flow(
    type="node.add", provider="rke", policy="manual", validate=GUARD, blast_radius=rke1_radius,
    config_diff=rke1_diff, warnings=lambda ctx: [RKE1_WARNING],
    steps=(
        check("guard", "membership (P1) and role (P4) guard", guard=GUARD),
        PREFLIGHT,
        approval("approve", "approve adding the nodes (rke up touches every node)"),
        INIT,
        rke1_member(assign),
        RENDER_CONFIG,
        action("rke_up", "rke up --update-only", rke_up, writes_config=True,
               irreversible="rke cannot un-add a node: remove it with node.remove"),
        STORE_STATE,
        RKE1_READY,
    ),
)


def _with_flat_network(flow: Flow) -> Flow:
    """``flow`` with the flat-network steps: the pool checked before the first gate, the
    ticket after the nodes joined; a node step's compensation passed over when cancelling
    keeps the nodes (:func:`.flat_network.keep_nodes`)."""
    steps: list[StepSpec] = []
    for s in flow.steps:
        if s.id == "preflight":
            steps.append(flat_network.POOL_CHECK)
        if s.undo is not None:
            s = replace(s, undo=flat_network.unless_kept(s.undo),
                        undo_then=tuple(flat_network.unless_kept(u) for u in s.undo_then))
        steps.append(s)
    return replace(flow, steps=(*steps, *flat_network.STEPS))


RKE2_FLAT = _with_flat_network(RKE2)
RKE1_FLAT = _with_flat_network(RKE1)
