"""How a change type is declared: a flow is data (an ordered list of steps) plus small
functions (which targets a step applies to, the job it sends, the check it makes, its
compensation). Each flow lives in ``domain/flows/<type>.py`` and reads in one screen.

The context a flow sees (:class:`FlowContext`) is a snapshot of what the orchestrator
knows: the change's request, the cluster, and the machines by host name (from the
inventory's events). Flows never do I/O.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autorke_common.errors import Conflict, DomainError, Missing

CORE_ROLES = ("etcd", "controlplane")
#: Result names that are not hosts: an rke run, a config store, the cluster API, a
#: flat-network ticket (netcfg and VCalico).
PSEUDO_TARGETS = frozenset({"rke", "config", "kube-api", "ticket"})


@dataclass(frozen=True)
class Violation:
    """A check that failed: the problem slug of DESIGN.md and what exactly is wrong.
    ``refusal`` is the kind of refusal it makes of a change request: :class:`Conflict`
    (what the orchestrator knows refuses it), :class:`~autorke_common.errors.Invalid`
    (the request itself is wrong) or :class:`Missing` (it names what does not exist)."""

    slug: str
    detail: str
    hosts: tuple[str, ...] = ()
    refusal: type[DomainError] = Conflict

    def refused(self) -> DomainError:
        """The refusal of a change request this violation makes (its hosts named)."""
        return self.refusal(self.slug, self.detail, **({"hosts": list(self.hosts)} if self.hosts else {}))


@dataclass
class MachineView:
    id: str
    hostname: str
    cluster: str | None = None
    roles: list[str] = field(default_factory=list)
    state: str = "available"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    k8s_components: list[str] = field(default_factory=list)
    #: what the CMDB says labels can come from (rack, idc, gpu_model, gpu_count)
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClusterView:
    name: str
    provider: str  # "rke" (RKE1) or "rke2"
    api_endpoint: str | None = None
    kubeconfig_sealed: str | None = None
    join_token_sealed: str | None = None
    #: hostname -> roles of every member. The service layer passes a lazy mapping, so a
    #: step whose flow never reads the members (RKE2 node.add) never loads them.
    nodes: Mapping[str, list[str]] = field(default_factory=dict)
    join_address: str | None = None  # RKE2: where a new node registers (server:9345)
    #: the latest config of each kind the inventory versioned ("cluster.yml",
    #: "cluster.rkestate"), sealed as its events carry them
    configs_sealed: dict[str, str] = field(default_factory=dict)

    def nodes_with(self, role: str) -> list[str]:
        return sorted(h for h, roles in self.nodes.items() if role in roles)


@dataclass
class FlowContext:
    type: str
    cluster: ClusterView | None
    targets: list[str]
    params: dict[str, Any]
    machines: dict[str, MachineView]
    #: step id -> target -> what the step's job reported (e.g. an rke run's sealed rkestate)
    results: Mapping[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: step id -> who approved that gate (a ticket's human check is the gate's approver)
    approved_by: Mapping[str, str] = field(default_factory=dict)
    #: step id -> its current attempt (a re-planned ticket gets a new id)
    attempts: Mapping[str, int] = field(default_factory=dict)
    change_id: str = ""  # empty while the change is planned

    def machine(self, host: str) -> MachineView | None:
        return self.machines.get(host)


@dataclass(frozen=True)
class Job:
    """What one step asks another service to do. ``service`` is ``executor`` (``kind`` and
    ``action`` of its job contract) or ``inventory`` (``action`` is the command type, one
    command per host). ``hosts`` are SSH targets; ``reports`` the names results come
    back under (node names for ``kube``, ``rke`` for an rke run)."""

    kind: str
    action: str
    hosts: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    service: str = "executor"
    reports: tuple[str, ...] | None = None
    timeout_s: float = 300.0

    @property
    def reported(self) -> tuple[str, ...]:
        return self.reports if self.reports is not None else self.hosts


Targets = list[str]
JobFactory = Callable[[FlowContext, Targets], Job]


@dataclass(frozen=True)
class Marks:
    """The machine lifecycle states (DESIGN.md section 3) an action moves its targets
    through, recorded in the inventory: ``during`` when the step starts on a host,
    ``after`` when it succeeded there, ``undone`` when its compensation did. ``None``
    leaves the state alone at that point. A host that failed keeps its ``during`` state:
    the truth is that the step did not finish there."""

    during: str | None = None
    after: str | None = None
    undone: str | None = None


@dataclass(frozen=True)
class StepSpec:
    id: str
    name: str
    kind: str  # "check", "approval" or "action"
    job: JobFactory | None = None
    guard: Callable[[FlowContext], Violation | None] | None = None
    verify: Callable[[FlowContext, dict[str, dict[str, Any]]], Violation | None] | None = None
    select: Callable[[FlowContext, Targets], Targets] | None = None
    undo: JobFactory | None = None
    #: compensation jobs that follow ``undo``, in order, each once the one before succeeded
    #: (RKE2: the Node object is deleted only after the agent is gone, else it registers again)
    undo_then: tuple[JobFactory, ...] = ()
    irreversible: str = ""  # why an action has no compensation
    approver: str = "approver"
    writes_config: bool = False
    failure_slug: str = "check-failed"
    marks: Marks | None = None
    #: the change's status when this step fails (None: ``partially_failed`` when some of its
    #: targets succeeded, else ``failed``): a ticket step after the nodes joined leaves the
    #: change ``partially_failed``, the nodes being in the cluster
    failure_status: str | None = None
    #: a retry of this step starts again at that step (a refused ticket is planned anew)
    retry_from: str | None = None
    #: steps of one group: continuing past a failed one skips the rest of its group
    group: str | None = None

    @property
    def compensations(self) -> tuple[JobFactory, ...]:
        return (self.undo, *self.undo_then) if self.undo is not None else ()


def check(id: str, name: str, guard=None, job=None, verify=None, slug: str = "check-failed",
          select=None) -> StepSpec:
    return StepSpec(id, name, "check", job=job, guard=guard, verify=verify, failure_slug=slug, select=select)


def approval(id: str, name: str, role: str = "approver", group: str | None = None) -> StepSpec:
    return StepSpec(id, name, "approval", approver=role, group=group)


def action(id: str, name: str, job: JobFactory, undo: JobFactory | None = None, *,
           undo_then: tuple[JobFactory, ...] = (), irreversible: str = "", select=None,
           writes_config: bool = False, marks: Marks | None = None, failure_status: str | None = None,
           retry_from: str | None = None, group: str | None = None) -> StepSpec:
    if undo is None and not irreversible:
        raise ValueError(f"action {id} must declare its compensation or why it has none")
    if undo_then and undo is None:
        raise ValueError(f"action {id}: undo_then follows an undo")
    return StepSpec(id, name, "action", job=job, undo=undo, undo_then=tuple(undo_then),
                    irreversible=irreversible, select=select, writes_config=writes_config, marks=marks,
                    failure_status=failure_status, retry_from=retry_from, group=group)


@dataclass(frozen=True)
class Flow:
    type: str
    provider: str | None  # None: any provider
    policy: str  # "manual" or "auto"
    steps: tuple[StepSpec, ...]
    blast_radius: Callable[[FlowContext], tuple[list[str], list[str]]]
    validate: Callable[[FlowContext], Violation | None] = lambda ctx: None
    config_diff: Callable[[FlowContext], str] = lambda ctx: ""
    warnings: Callable[[FlowContext], list[str]] = lambda ctx: []
    needs_cluster: bool = True

    def spec(self, step_id: str) -> StepSpec:
        return next(s for s in self.steps if s.id == step_id)


# -- shared guards, used by several flows ------------------------------------------------
def first(*checks: Callable[[FlowContext], Violation | None]) -> Callable[[FlowContext], Violation | None]:
    def run(ctx: FlowContext) -> Violation | None:
        for c in checks:
            v = c(ctx)
            if v:
                return v
        return None

    return run


def known_machines(ctx: FlowContext) -> Violation | None:
    missing = [h for h in ctx.targets if h not in ctx.machines]
    if missing:
        return Violation("not-found", f"unknown machines: {', '.join(missing)}", tuple(missing), Missing)
    return None


def not_in_any_cluster(ctx: FlowContext) -> Violation | None:
    """P1: a machine belongs to at most one cluster."""
    own = ctx.cluster.name if ctx.cluster else None
    other = [h for h in ctx.targets if ctx.machines[h].cluster and ctx.machines[h].cluster != own]
    if other:
        where = ", ".join(f"{h} (in {ctx.machines[h].cluster})" for h in other)
        return Violation("machine-in-other-cluster", f"already members of another cluster: {where}",
                         tuple(other))
    already = [h for h in ctx.targets if own and ctx.machines[h].cluster == own]
    if already:
        return Violation("machine-already-member", f"already in {own}: {', '.join(already)}",
                         tuple(already))
    return None


def members_of_cluster(ctx: FlowContext) -> Violation | None:
    own = ctx.cluster.name if ctx.cluster else None
    if not own:
        return None
    other = [h for h in ctx.targets if ctx.machines[h].cluster and ctx.machines[h].cluster != own]
    if other:
        return Violation("machine-in-other-cluster", f"members of another cluster: {', '.join(other)}",
                         tuple(other))
    outside = [h for h in ctx.targets if ctx.machines[h].cluster != own]
    if outside:
        return Violation("machine-not-member", f"not members of {own}: {', '.join(outside)}",
                         tuple(outside))
    return None


def free_machines(ctx: FlowContext) -> Violation | None:
    """P2: init/cleanup never run on a cluster member or a machine known to run Kubernetes."""
    members = [h for h in ctx.targets if ctx.machines[h].cluster]
    if members:
        return Violation("machine-has-k8s-components",
                         f"cluster members: {', '.join(members)}", tuple(members))
    seen = [h for h in ctx.targets if ctx.machines[h].k8s_components]
    if seen:
        return Violation("machine-has-k8s-components",
                         "Kubernetes components found: " + "; ".join(
                             f"{h}: {', '.join(ctx.machines[h].k8s_components)}" for h in seen), tuple(seen))
    return None


def probe_findings(components: Any) -> list[str]:
    """What one host's probe answer found, as ``kind: name`` lines (empty: clean). The probe
    answers ``{"processes": [...], "containers": [...], "paths": [...], "units": [...]}``:
    a kind with an empty list found nothing. Anything else it might answer (a bare list, a
    string) is taken as a finding, never as clean."""
    if not components:
        return []
    if isinstance(components, dict):
        return [f"{kind}: {item}" for kind, items in components.items()
                for item in (items if isinstance(items, list) else [items]) if item]
    return [str(c) for c in (components if isinstance(components, list) else [components])]


def probe_clean(ctx: FlowContext, results: dict[str, dict[str, Any]]) -> Violation | None:
    """P2, live: the executor's probe found no Kubernetes component on any target."""
    dirty = {h: found for h, r in results.items() if (found := probe_findings(r.get("components")))}
    if dirty:
        return Violation("machine-has-k8s-components", "Kubernetes components found: " + "; ".join(
            f"{h}: {', '.join(found)}" for h, found in sorted(dirty.items())), tuple(sorted(dirty)))
    return None


#: What init and cleanup do to a machine's lifecycle state, wherever they run.
INIT_MARKS = Marks(during="initializing", after="ready", undone="available")
CLEANUP_MARKS = Marks(during="cleaning", after="available")


def needs_init(ctx: FlowContext, targets: Targets) -> Targets:
    return [h for h in targets if ctx.machines[h].state in ("available", "initializing")]


def probe_job(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "probe", tuple(hosts), timeout_s=60)


def preflight_job(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "preflight", tuple(hosts), timeout_s=120)


def init_job(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "init", tuple(hosts), {"profile": ctx.params.get("profile", "container-runtime")},
               timeout_s=1800)


def cleanup_job(ctx: FlowContext, hosts: Targets) -> Job:
    return Job("script", "cleanup", tuple(hosts), timeout_s=1800)


def inventory(action: str, **params: Any) -> JobFactory:
    def factory(ctx: FlowContext, hosts: Targets) -> Job:
        return Job("inventory", action, tuple(hosts), dict(params), service="inventory")

    return factory


def kube(action: str, **params: Any) -> JobFactory:
    def factory(ctx: FlowContext, hosts: Targets) -> Job:
        return Job("kube", action, (), {"nodes": list(hosts), **params}, ("kubeconfig",),
                   reports=tuple(hosts), timeout_s=float(params.get("timeout_s", 300)) + 30)

    return factory
