"""What a job is and how its outcome is judged, without any I/O: the fence (P5), the
probe guard's verdict (P2), how a target's failure is classed, and how per-target
results add up to a job status. The service layer and the adapters only carry data in
and out of these rules."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autorke_common.catalogue.executor import ACTIONS, GUARDED_ACTIONS, ExecutorRun
from autorke_common.errors import Invalid

OUTPUT_CAP = 16 * 1024  # bytes of a target's output kept in its result (the last ones)


class InvalidJob(Invalid):
    """The job cannot be run as asked (unknown action, missing parameter, ...): it ends
    ``failed`` with this reason, nothing touched."""

    def __init__(self, detail: str) -> None:
        super().__init__("invalid-job", detail)


@dataclass
class TargetOutcome:
    """How one target of a job ended."""

    host: str
    status: str  # succeeded | failed | refused
    duration_s: float = 0.0
    exit_code: int | None = None
    error_class: str | None = None
    error: str | None = None
    output: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls, host: str, duration_s: float, exit_code: int | None = 0, output: str = "",
           result: dict[str, Any] | None = None) -> TargetOutcome:
        return cls(host, "succeeded", round(duration_s, 3), exit_code, None, None,
                   cap_output(output), result or {})

    @classmethod
    def failed(cls, host: str, error_class: str, error: str, duration_s: float = 0.0,
               exit_code: int | None = None, output: str = "",
               result: dict[str, Any] | None = None) -> TargetOutcome:
        status = "refused" if error_class.startswith("refused_") else "failed"
        return cls(host, status, round(duration_s, 3), exit_code, error_class, error[:2000],
                   cap_output(output), result or {})


def cap_output(text: str, cap: int = OUTPUT_CAP) -> str:
    """Keep the end of long output (where errors are), marking the cut."""
    if len(text) <= cap:
        return text
    return "[... output cut ...]\n" + text[-cap:]


def validate(job: ExecutorRun) -> None:
    """Reject what can never run; raises :class:`InvalidJob` with the reason."""
    if job.action not in ACTIONS[job.kind]:
        raise InvalidJob(f"unknown {job.kind} action {job.action!r}; "
                         f"known: {', '.join(ACTIONS[job.kind])}")
    hosts = [t.host for t in job.targets]
    if len(set(hosts)) != len(hosts):
        raise InvalidJob("a host is named twice in targets")
    if job.kind == "script" and job.action == "init" and not job.params.get("profile"):
        raise InvalidJob("init needs params.profile")
    if job.kind == "kube" and "kubeconfig" not in job.secrets:
        raise InvalidJob("kube jobs need secrets.kubeconfig")
    if job.kind == "kube" and job.action != "list_nodes" and not job.params.get("nodes"):
        raise InvalidJob(f"kube {job.action} needs params.nodes")
    if job.kind == "rke2" and not job.targets:
        raise InvalidJob("an rke2 job needs its nodes as targets")  # each node joins (or leaves) by itself
    if job.kind == "rke2" and job.action == "join":
        missing = [k for k in ("server",) if not job.params.get(k)]
        if missing or "token" not in job.secrets:
            raise InvalidJob("rke2 join needs params.server and secrets.token")
    if job.kind == "rke" and "cluster_yml" not in job.secrets and "cluster_yml" not in job.params:
        raise InvalidJob("rke jobs need the cluster.yml (secrets.cluster_yml or params.cluster_yml)")


def split_by_fence(hosts: Iterable[str], fence: Iterable[str]) -> tuple[list[str], list[str]]:
    """(inside, outside) the fence, in the given order. P5: anything outside is refused
    before a connection is made; an empty fence allows nothing."""
    allowed = set(fence)
    inside, outside = [], []
    for h in hosts:
        (inside if h in allowed else outside).append(h)
    return inside, outside


def rke_hosts(cluster_yml: dict[str, Any], rkestate: str | None) -> dict[str, set[str]]:
    """Every host ``rke`` may dial for this cluster.yml, by name (hostname override, else
    address) with all its names: the nodes of cluster.yml, and the nodes of the last
    applied state (``currentState.rkeConfig.nodes`` of the rkestate), which rke reconciles
    away by connecting to them and cleaning them. An unreadable state adds none (rke fails
    on it before dialling anything)."""
    nodes = list(cluster_yml.get("nodes") or [])
    if rkestate:
        try:
            current = (json.loads(rkestate).get("currentState") or {}).get("rkeConfig") or {}
            nodes += list(current.get("nodes") or [])
        except (ValueError, AttributeError):
            pass
    hosts: dict[str, set[str]] = {}
    for node in nodes:
        names = {str(n) for n in (node.get("hostname_override"), node.get("address")) if n}
        if names:
            hosts.setdefault(str(node.get("hostname_override") or node.get("address")), set()).update(names)
    return hosts


def rke_outside_fence(cluster_yml: dict[str, Any], rkestate: str | None, fence: Iterable[str]) -> list[str]:
    """The hosts rke may dial that are outside the fence (P5)."""
    allowed = set(fence)
    return [name for name, names in rke_hosts(cluster_yml, rkestate).items() if not names & allowed]


def fence_refusal(host: str) -> TargetOutcome:
    return TargetOutcome.failed(host, "refused_fence",
                                f"{host} is outside this change's fence (blast radius); not touched")


def needs_probe(job: ExecutorRun) -> bool:
    """P2: machine init and cleanup are guarded by a live probe, whatever the job says."""
    return job.kind == "script" and job.action in GUARDED_ACTIONS


def probe_evidence(components: dict[str, Any]) -> list[str]:
    """Turn the probe script's findings into human-readable evidence (empty: clean).

    The probe reports ``processes`` (kubelet/etcd/kube-apiserver/rke2 found running),
    ``containers`` (running or stopped containers of those names), ``paths`` (existing
    Kubernetes directories, ``/var/lib/etcd`` only when not empty) and ``units`` (an
    active or enabled rke2 agent/server unit)."""
    evidence: list[str] = []
    for proc in components.get("processes", []) or []:
        evidence.append(f"process running: {proc}")
    for ctr in components.get("containers", []) or []:
        evidence.append(f"container present: {ctr}")
    for path in components.get("paths", []) or []:
        evidence.append(f"path exists: {path}")
    for unit in components.get("units", []) or []:
        evidence.append(f"unit present: {unit}")
    return evidence


def job_status(outcomes: Iterable[TargetOutcome]) -> str:
    """succeeded when every target did, failed when none did, else partially_failed.
    A job with no targets at all (everything refused) counts as failed."""
    states = [o.status == "succeeded" for o in outcomes]
    if states and all(states):
        return "succeeded"
    if any(states):
        return "partially_failed"
    return "failed"
