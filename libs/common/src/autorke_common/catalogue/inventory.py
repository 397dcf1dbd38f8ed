"""The inventory service's messages: what it tells others (events) and what the
orchestrator asks of it (commands).

Conventions every message here follows:

* A machine is named by ``machine`` (its stable id, e.g. ``cmdb-000001``) and, for
  readability, ``hostname``. Commands accept either the id or the hostname in ``machine``.
* Every command carries the ``change_id`` of an open change of the orchestrator and is
  signed by the orchestrator (:mod:`autorke_common.signing`); the inventory refuses a
  command without a change id (``no-open-change``) or without that signature
  (``unsigned-command``, ``bad-signature``). The command's envelope should carry the same
  id as ``correlation_id``.
* Every command is answered by exactly one event, published with
  ``correlation_id = change_id`` and ``causation_id = <the command envelope's id>`` and
  with ``command_id`` set to that id as well:

  ==============================  ===============================================
  command                         success event
  ==============================  ===============================================
  ``inventory.membership.assign``   ``inventory.membership.changed`` (``action=assigned``)
  ``inventory.membership.release``  ``inventory.membership.changed`` (``action=released``)
  ``inventory.node.update``         ``inventory.membership.changed`` (``action=updated``)
  ``inventory.machine.transition``  ``inventory.machine.state_changed``
  ``inventory.config.store``        ``inventory.config.versioned``
  ``inventory.config.preview``      ``inventory.config.previewed``
  ``inventory.config.adopt``        ``inventory.config.adopted``
  ==============================  ===============================================

  A refusal is ``inventory.command.refused`` with the problem slug of DESIGN.md
  (``machine-in-other-cluster``, ``illegal-state-transition``, ``invalid-cluster-config``,
  ``not-found``, ``no-open-change``, ``invalid-request``, ...). A command replayed with the
  same envelope id has no second effect (and no second answer).
* Secrets never travel in plain text: ``kubeconfig_sealed``, ``join_token_sealed`` and
  ``content_sealed`` are :class:`~autorke_common.secrets.SecretBox`-sealed with the
  platform key.
* How to reach a machine (``ssh`` on :class:`MachineAdded` / :class:`MachineUpdated`) comes
  from its CMDB record: the executor verifies the host key, never learns it.
* A config's content travels only sealed, in :class:`ConfigVersioned` (``content_sealed``),
  so the orchestrator can hand the current cluster.yml and cluster.rkestate to an ``rke``
  job without reading the inventory's tables; an ``rke`` job's new rkestate comes back as
  ``inventory.config.store`` with ``content_sealed``. The orchestrator hands on only
  versions stored within a change it approved (``change_id``).
* A config written through the REST API (new options, an imported cluster.yml or
  cluster.rkestate, a rollback) is a change of its own (``config.update``,
  ``config.import``, ``config.rollback``): the inventory keeps the content as a *proposal*
  (sealed), and the change's params carry only the proposal's id and digest (an rkestate
  holds every private key of the cluster; params travel in events). The change's check
  asks the inventory to preview it (the redacted unified diff against the current
  version, and for an rkestate which certificates change, by digest), and its action to
  adopt it once approved.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autorke_common.catalogue import Command, Event
from autorke_common.node_profiles import MachineFacts

MachineState = Literal["available", "initializing", "ready", "joining", "member", "draining",
                       "removing", "cleaning", "faulty", "retired"]
Role = Literal["etcd", "controlplane", "worker"]
ConfigKind = Literal["cluster.yml", "cluster.rkestate", "kubeconfig"]
SECRET_CONFIG_KINDS: frozenset[str] = frozenset({"cluster.rkestate", "kubeconfig"})


class Taint(BaseModel):
    """A Kubernetes taint, as in cluster.yml and the node spec."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


# -- sync ------------------------------------------------------------------------------------
class SyncStarted(Event):
    """A CMDB sync began. ``mode`` is ``full`` (every record; machines missing from the
    source are retired afterwards) or ``incremental`` (records changed after ``since``)."""

    TYPE = "inventory.sync.started"
    sync_id: str
    source: str
    mode: Literal["full", "incremental"]
    since: str | None = None


class SyncProgressed(Event):
    """Counts so far, after each page the source returned."""

    TYPE = "inventory.sync.progressed"
    sync_id: str
    seen: int
    added: int
    updated: int
    retired: int
    conflicts: int


class SyncFinished(Event):
    """The sync ended (``ok=False`` with ``error`` when the source failed half-way; the
    pages already applied stay applied and the cursor is not advanced past them)."""

    TYPE = "inventory.sync.finished"
    sync_id: str
    source: str
    mode: Literal["full", "incremental"]
    ok: bool
    seen: int
    added: int
    updated: int
    unchanged: int
    retired: int
    conflicts: int
    cursor: str | None = None
    duration_s: float
    error: str | None = None


# -- machines --------------------------------------------------------------------------------
class SshAccess(BaseModel):
    """How the executor reaches a machine, from its CMDB record. ``host_key`` is the OpenSSH
    public key line the machine must present (None: never contacted, no trust on first
    use). ``bastion`` is a jump host: ``{hostname, address, port, user, host_key}``, or
    its host name alone when it is a machine of the inventory."""

    model_config = ConfigDict(extra="ignore")
    address: str | None = None
    port: int = 22
    user: str | None = None
    host_key: str | None = None
    bastion: dict[str, Any] | str | None = None


class MachineAdded(Event):
    """A machine appeared in the CMDB and is now in the inventory (state ``available``)."""

    TYPE = "inventory.machine.added"
    machine: str
    hostname: str
    ip: str | None
    state: MachineState
    rack: str | None = None
    ssh: SshAccess | None = None
    #: what node labels can come from (the node profiles' label mapping)
    facts: MachineFacts | None = None


class MachineUpdated(Event):
    """Some of a machine's CMDB data or gathered facts changed; ``fields`` names them
    (e.g. ``["ip", "hardware"]``; ``facts`` for a facts refresh)."""

    TYPE = "inventory.machine.updated"
    machine: str
    hostname: str
    ip: str | None
    fields: list[str]
    ssh: SshAccess | None = None  # the current SSH data (None: not part of this update)
    facts: MachineFacts | None = None  # the current label facts (None: not part of this update)


class MachineRetired(Event):
    """The machine is gone from the CMDB (or marked retired there). It is kept, never
    deleted, in state ``retired``."""

    TYPE = "inventory.machine.retired"
    machine: str
    hostname: str
    reason: str


class MachineStateChanged(Event):
    """The machine's lifecycle state moved (DESIGN.md section 3)."""

    TYPE = "inventory.machine.state_changed"
    machine: str
    hostname: str
    from_state: MachineState
    to_state: MachineState
    change_id: str | None = None
    command_id: str | None = None


class MachineConflictDetected(Event):
    """The CMDB says something the inventory refuses to apply silently: a cluster member's
    ``ip`` or ``hostname`` changed, or a member vanished/retired in the CMDB (``status``),
    or a record takes a hostname another machine holds, or is named like one (``hostname``,
    ``id``: that record is skipped).
    The inventory keeps its current value until a human resolves it."""

    TYPE = "inventory.machine.conflict_detected"
    machine: str
    hostname: str
    cluster: str | None = None  # None: a record the sync skipped (its hostname is another's)
    field: str
    current: str | None
    incoming: str | None


# -- membership ------------------------------------------------------------------------------
class MembershipChanged(Event):
    """A machine joined a cluster (``assigned``), left it (``released``), or its roles,
    labels or taints changed (``updated``). ``cluster`` is the cluster concerned;
    ``change_id`` is None only for an import of an existing cluster."""

    TYPE = "inventory.membership.changed"
    action: Literal["assigned", "released", "updated"]
    machine: str
    hostname: str
    cluster: str
    roles: list[Role]
    labels: dict[str, str]
    taints: list[Taint]
    change_id: str | None = None
    command_id: str | None = None


# -- node status ---------------------------------------------------------------------------
class NodeCondition(BaseModel):
    """A node condition that is not OK (e.g. ``MemoryPressure`` True)."""

    model_config = ConfigDict(extra="ignore")
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class NodeStatusChanged(Event):
    """A member's node, as its cluster's Kubernetes API shows it, changed: its Ready
    condition (``ready``: ``True``/``False``/``Unknown``, None when not registered),
    ``status`` (``Ready``/``NotReady``/``Unknown``, as ``kubectl get nodes`` says it), the
    conditions that are not OK, cordoned (``unschedulable``) or its kubelet version. Sent
    only on a change, not for every observation; ``observed_at`` is the observation's
    time, ``job_id`` the listing it came from."""

    TYPE = "inventory.node.status_changed"
    cluster: str
    machine: str
    hostname: str
    node: str | None
    status: Literal["Ready", "NotReady", "Unknown"]
    previous_status: Literal["Ready", "NotReady", "Unknown"] | None = None
    ready: Literal["True", "False", "Unknown"] | None
    registered: bool = True
    reason: str | None = None
    problems: list[NodeCondition] = Field(default_factory=list)
    unschedulable: bool = False
    kubelet_version: str | None = None
    observed_at: str
    job_id: str | None = None


# -- clusters --------------------------------------------------------------------------------
class ClusterFacts(Event):
    """Fields shared by the two cluster events (netcfg's contract: keep them stable)."""

    name: str
    provider: Literal["rke", "rke2"]
    api_endpoint: str | None
    kubeconfig_sealed: str | None
    host_networks: list[str]
    pod_cidr: str
    service_cidr: str
    bgp_as: int | None
    bastion: str | None = None
    #: RKE2: where a new node registers (``https://<server>:9345`` in real RKE2) and the
    #: server's node-token, sealed. None for RKE1 clusters and until registered.
    join_address: str | None = None
    join_token_sealed: str | None = None


class ClusterRegistered(ClusterFacts):
    """A cluster was registered or imported."""

    TYPE = "inventory.cluster.registered"


class ClusterUpdated(ClusterFacts):
    """A cluster's registration changed (full new values, not a delta)."""

    TYPE = "inventory.cluster.updated"


# -- node profiles and the label mapping ------------------------------------------------------
class NodeProfileVersioned(Event):
    """A new version of a cluster's node profile (``kind`` ``node-profile``, the one named
    ``default`` is the cluster's default) or of its CMDB label mapping (``label-mapping``,
    named ``default``) was stored; ``spec`` is the whole document
    (:mod:`autorke_common.node_profiles`). Nothing in it is secret."""

    TYPE = "inventory.node_profile.versioned"
    cluster: str
    kind: Literal["node-profile", "label-mapping"]
    name: str
    version: int
    spec: dict[str, Any]
    created_by: str
    comment: str | None = None


# -- configs ---------------------------------------------------------------------------------
class ConfigVersioned(Event):
    """A new version of a cluster's config was stored. The content travels only sealed
    (``content_sealed``, every kind, cluster.yml too: it may name keys); ``rollback_of``
    is set when the version restores an older one."""

    TYPE = "inventory.config.versioned"
    cluster: str
    kind: ConfigKind
    version: int
    content_hash: str
    created_by: str
    change_id: str | None = None
    command_id: str | None = None
    rollback_of: int | None = None
    content_sealed: str | None = None


class ConfigRevealed(Event):
    """An admin read a config version whole, secrets included (a kubeconfig download, an
    rkestate): the audit trail of who read which keys. Nothing of the content."""

    TYPE = "inventory.config.revealed"
    cluster: str
    kind: ConfigKind
    version: int
    by: str


class ConfigDiff(BaseModel):
    """What adopting a proposal would change in one kind of config: the unified diff of the
    redacted texts (cut at 64 KiB, ``truncated``; the whole diff is on the proposal in the
    inventory's API), and for an rkestate the certificates that change (name ->
    ``{"change": added|removed|changed, "from": digest, "to": digest}``; never a key)."""

    model_config = ConfigDict(extra="ignore")
    kind: str
    from_version: int | None = None
    diff: str = ""
    truncated: bool = False
    certificates: dict[str, dict[str, str | None]] | None = None
    ca_changes: bool | None = None
    note: str | None = None


class ConfigPreviewed(Event):
    """The answer to ``inventory.config.preview``: what the change would adopt, redacted
    (``diffs`` per kind; ``matched`` / ``unmatched`` nodes of an imported cluster.yml)."""

    TYPE = "inventory.config.previewed"
    cluster: str
    change_id: str
    command_id: str
    proposal: str | None = None
    digest: str | None = None
    diffs: list[ConfigDiff] = Field(default_factory=list)
    matched: list[dict[str, Any]] = Field(default_factory=list)
    unmatched: list[dict[str, Any]] = Field(default_factory=list)


class ConfigAdopted(Event):
    """The answer to ``inventory.config.adopt``: the proposal (or the rollback) is the
    current config now; ``versions`` are the versions it stored (each also announced by
    ``inventory.config.versioned`` with the change's id)."""

    TYPE = "inventory.config.adopted"
    cluster: str
    change_id: str
    command_id: str
    proposal: str | None = None
    versions: list[dict[str, Any]] = Field(default_factory=list)
    options_changed: bool = False


class CommandRefused(Event):
    """The inventory refused a command; nothing changed. ``problem`` is the stable slug."""

    TYPE = "inventory.command.refused"
    command: str
    command_id: str
    change_id: str | None
    problem: str
    detail: str
    machine: str | None = None
    cluster: str | None = None


# -- commands (from the orchestrator) --------------------------------------------------------
class AssignMembership(Command):
    """Place a machine in a cluster with these roles, labels and taints. Refused with
    ``machine-in-other-cluster`` when it is a member of another cluster (P1)."""

    TYPE = "inventory.membership.assign"
    change_id: str
    machine: str
    cluster: str
    roles: list[Role]
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


class ReleaseMembership(Command):
    """Take a machine out of ``cluster`` (refused when it is not a member of it)."""

    TYPE = "inventory.membership.release"
    change_id: str
    machine: str
    cluster: str


class TransitionMachine(Command):
    """Move a machine to ``state``; ``expected`` (optional) guards against a stale view.
    Illegal moves are refused with ``illegal-state-transition``.

    ``ordinal`` (a lifecycle mark of a change: when the orchestrator made it, in
    microseconds) orders one change's marks of a machine, which replicas of the inventory,
    or redeliveries, may handle in any order: a mark older than the last one applied from
    the same change is stale and changes nothing; a newer one that is not (yet) a legal move
    waits for the marks before it (retried) instead of being refused."""

    TYPE = "inventory.machine.transition"
    change_id: str
    machine: str
    state: MachineState
    expected: MachineState | None = None
    ordinal: int | None = Field(default=None, ge=0)


class UpdateNode(Command):
    """Replace a member's labels and/or taints (``None`` leaves that part alone). Roles are
    not changed here (P4: a role change is a membership assign of its own change type)."""

    TYPE = "inventory.node.update"
    change_id: str
    machine: str
    cluster: str
    labels: dict[str, str] | None = None
    taints: list[Taint] | None = None


class StoreConfig(Command):
    """Store a new config version. For ``cluster.yml`` either ``render=True`` (rendered from
    the inventory and validated) or ``content``; secret kinds must come as
    ``content_sealed``. An invalid cluster.yml is refused with ``invalid-cluster-config``."""

    TYPE = "inventory.config.store"
    change_id: str
    cluster: str
    kind: ConfigKind
    render: bool = False
    content: str | None = None
    content_sealed: str | None = None
    comment: str | None = None


class PreviewConfig(Command):
    """Show what a config change would adopt: a proposal (``proposal`` + ``digest``, made
    by the inventory's REST API: new options, an imported cluster.yml and/or
    cluster.rkestate) or a rollback (``kind`` + ``version``). Nothing changes but the
    proposal's binding to the change. Refused with ``proposal-mismatch`` (wrong digest or
    cluster), ``proposal-taken`` (another change's) or ``not-found``."""

    TYPE = "inventory.config.preview"
    change_id: str
    cluster: str
    proposal: str | None = None
    digest: str | None = None
    kind: ConfigKind | None = None
    version: int | None = None


class AdoptConfig(Command):
    """Make the previewed proposal (or the rollback) the current config, as new versions
    tagged with ``change_id``. Refused like :class:`PreviewConfig`, and with
    ``config-changed-since-preview`` when another version became current meanwhile (the
    approver approved a diff against the version before it)."""

    TYPE = "inventory.config.adopt"
    change_id: str
    cluster: str
    proposal: str | None = None
    digest: str | None = None
    kind: ConfigKind | None = None
    version: int | None = None
