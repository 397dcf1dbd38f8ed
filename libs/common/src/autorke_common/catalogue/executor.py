"""The executor's job contract: the one command that asks it to touch machines or
clusters, and the events it reports back.

Senders (inventory for facts and node listings, the orchestrator for every change step)
build an :class:`ExecutorRun` with a *deterministic* ``job_id`` — the idempotency key: a
job id that was already run answers with its stored result (a fresh
``executor.job.finished`` carrying the same data) instead of running again, and after a
crash only the targets that had not finished are run on redelivery.

The ``fence`` is the blast radius (DESIGN.md P5): any target whose ``host`` is not in it is
refused (``error_class="refused_fence"``) before a connection is made. Before ``init`` and
``cleanup`` scripts the executor probes each host for Kubernetes components (P2) and
refuses it (``refused_probe``) with the evidence, whatever the job says.

Every ``executor.run`` is signed (:mod:`autorke_common.signing`: ``signature``,
``signed_by``, ``issued_at``) by the orchestrator, or by the inventory for its own
``script``/``facts`` and ``kube``/``list_nodes`` jobs; the executor refuses any other
before a connection, a job row or an event (dead-lettered ``unsigned-command`` /
``bad-signature``).

Secrets (kubeconfig, rkestate, join token) travel sealed with
:class:`autorke_common.secrets.SecretBox`; they are never logged and never appear unsealed
in an event. Every event carries ``job_id`` and ``change_id``; the envelope's
``correlation_id`` is the ``change_id`` (or the ``job_id`` when there is no change).

Kinds and actions (``kind`` / ``action``):

* ``script``: a named script shipped with the executor — ``facts``, ``preflight``,
  ``probe``, ``init`` (``params.profile``: ``base``, ``container-runtime``, ``gpu``),
  ``cleanup``, and on RKE1 etcd nodes (P6: nothing else is touched) ``etcd_snapshot``,
  ``etcd_snapshot_check``, ``etcd_snapshot_delete``, ``etcd_snapshot_list``, ``etcd_stop``,
  ``etcd_restore``, ``etcd_start``, ``etcd_health`` (``params.args``: ``[snapshot name]``;
  ``etcd_snapshot`` marks its file as made by the job's ``change_id`` and returns
  ``result.snapshot`` ``{name, file, created}``, ``etcd_snapshot_delete`` removes only a
  snapshot that change made, ``etcd_snapshot_list`` returns ``result.snapshots``). ``params.args``
  (list of strings) and ``params.env`` (dict) reach the script as quoted arguments /
  variables, never spliced into a shell string.
  ``facts`` returns ``result.facts``; ``probe`` returns ``result.components``.
* ``kube``: one cluster's API through ``secrets.kubeconfig``; no SSH ``targets`` are
  needed, the nodes are named in ``params.nodes`` and must be in the fence.
  ``cordon``, ``uncordon``, ``drain`` (``params.timeout_s``, ``grace_period_s``),
  ``label`` (``params.labels``: value ``None`` removes), ``taint`` (``params.taints``:
  list of ``{key, value, effect}``; ``params.remove``: keys to drop), ``delete_node``,
  ``wait_ready`` (``params.timeout_s``), ``list_nodes`` (no fence; one target
  ``host="kube-api"`` whose ``result.nodes`` lists every node: ``name``, ``labels``,
  ``taints``, ``unschedulable``, ``ready``, ``addresses``, ``kubelet_version`` and
  ``conditions`` — ``{type, status, reason, message, last_transition_time}`` each). Every other action reports
  each node as one target (``host`` = node name).
* ``rke``: RKE1 through the configured ``rke`` binary, with ``secrets.cluster_yml``
  (or ``params.cluster_yml``) and ``secrets.rkestate`` — ``up``, ``up_update_only``,
  ``snapshot_save`` / ``snapshot_restore`` (``params.snapshot_name``), ``remove``.
  Reported as one target ``host="rke"``; ``result.rkestate`` is the new state, sealed.
  ``targets`` lists the endpoint of every node rke may dial (the executor does not connect
  to them itself): each node of cluster.yml, and of the state's, must be in the fence
  **and** at its target's address and port, else rke is not run (``refused_fence``).
* ``rke2``: each target node over SSH, by itself (in parallel) — ``join`` (``params.server``, ``params.node_name``,
  ``params.labels``, ``params.taints``; ``secrets.token``) or ``remove``.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autorke_common.catalogue import Command, Event

JobKind = Literal["script", "kube", "rke", "rke2"]
JobStatus = Literal["succeeded", "partially_failed", "failed"]
TargetStatus = Literal["succeeded", "failed", "refused"]
ErrorClass = Literal[
    "unreachable", "auth", "host_key", "timeout", "failed", "refused_fence", "refused_probe",
    "unsafe-kubeconfig",  # the kubeconfig is not on the allow-list (autorke_common.kubeconfig): nothing ran
    "refused_installer",  # an RKE2 join with no installer checksum configured (L7): not touched
]

ETCD_SCRIPTS = ("etcd_snapshot", "etcd_snapshot_check", "etcd_snapshot_delete", "etcd_snapshot_list", "etcd_stop",
                "etcd_restore", "etcd_start", "etcd_health")
SCRIPT_ACTIONS = ("facts", "preflight", "probe", "init", "cleanup", *ETCD_SCRIPTS)
KUBE_ACTIONS = ("cordon", "uncordon", "drain", "label", "taint", "delete_node", "wait_ready", "list_nodes")
RKE_ACTIONS = ("up", "up_update_only", "snapshot_save", "snapshot_restore", "remove")
RKE2_ACTIONS = ("join", "remove")
ACTIONS: dict[str, tuple[str, ...]] = {
    "script": SCRIPT_ACTIONS, "kube": KUBE_ACTIONS, "rke": RKE_ACTIONS, "rke2": RKE2_ACTIONS,
}
#: Script actions guarded by the live Kubernetes-component probe (P2).
GUARDED_ACTIONS = ("init", "cleanup")


class SshEndpoint(BaseModel):
    """Where and as whom to connect, and the host key to expect (never auto-accepted)."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(description="machine id or hostname: the fence key")
    address: str
    port: int = 22
    user: str | None = Field(default=None, description="default: the executor's ssh_user")
    host_key: str = Field(description="OpenSSH public key line, e.g. 'ssh-ed25519 AAAA...'")


class Target(SshEndpoint):
    """One machine of a job, optionally reached through a bastion (``direct-tcpip``)."""

    bastion: SshEndpoint | None = None


class ExecutorRun(Command):
    """Run one job on its targets. ``job_id`` is chosen by the sender and is the
    idempotency key; ``fence`` lists every host the change may touch."""

    TYPE = "executor.run"
    job_id: str = Field(min_length=1, max_length=128)
    change_id: str | None = None
    kind: JobKind
    action: str
    targets: list[Target] = Field(default_factory=list)
    fence: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, description="values sealed with SecretBox")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=300)
    command_timeout_s: float = Field(default=300.0, gt=0, le=86400)
    concurrency: int = Field(default=50, ge=1, le=1000)
    requested_by: str | None = None


class JobStarted(Event):
    """The executor accepted a job and is about to touch its targets."""

    TYPE = "executor.job.started"
    job_id: str
    change_id: str | None = None
    kind: JobKind
    action: str
    hosts: list[str]
    redelivery: bool = False


class OutputLine(BaseModel):
    """One line of a target's output, for live logs."""

    model_config = ConfigDict(extra="forbid")
    host: str
    stream: Literal["stdout", "stderr"] = "stdout"
    line: str


class TargetOutput(Event):
    """A batch of output lines (several hosts may share a batch)."""

    TYPE = "executor.target.output"
    job_id: str
    change_id: str | None = None
    seq: int
    lines: list[OutputLine]


class TargetFinished(Event):
    """One target of a job is done: succeeded, failed (with its error class) or refused.
    ``result`` holds what the action produced (``facts``, ``components``, ``nodes``,
    a sealed ``rkestate``); refusals by the probe guard put the evidence in
    ``result.evidence``."""

    TYPE = "executor.target.finished"
    job_id: str
    change_id: str | None = None
    host: str
    status: TargetStatus
    exit_code: int | None = None
    duration_s: float
    output: str = Field(default="", description="capped (16 KiB): its beginning and its end, the bytes "
                                                "dropped between them counted in a marker")
    error_class: ErrorClass | None = None
    error: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class TargetSummary(BaseModel):
    """A target's outcome inside :class:`JobFinished`."""

    model_config = ConfigDict(extra="forbid")
    host: str
    status: TargetStatus
    exit_code: int | None = None
    error_class: ErrorClass | None = None
    error: str | None = None
    duration_s: float = 0.0


class JobFinished(Event):
    """Every target of a job is done. ``replayed`` is true when the job id had already
    run and this is its stored result (its ``executor.target.finished`` events are sent
    again before it, so a consumer that missed them gets each target's ``result``).
    Per-target results are also at ``GET /api/v1/jobs/{job_id}``."""

    TYPE = "executor.job.finished"
    job_id: str
    change_id: str | None = None
    kind: JobKind
    action: str
    status: JobStatus
    targets: list[TargetSummary]
    duration_s: float
    replayed: bool = False
    error: str | None = Field(default=None, description="why the job as a whole could not run")
