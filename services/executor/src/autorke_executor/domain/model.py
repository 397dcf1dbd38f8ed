"""What a job is and how its outcome is judged, without any I/O: the fence (P5), the
probe guard's verdict (P2), how a target's failure is classed, and how per-target
results add up to a job status. The service layer and the adapters only carry data in
and out of these rules."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from autorke_common.catalogue.executor import ACTIONS, GUARDED_ACTIONS, ExecutorRun
from autorke_common.errors import Invalid

#: Characters of a target's output kept in its result (stored, sent in its event): the
#: first quarter and the end (where errors are), the cut marked by :func:`dropped_marker`.
OUTPUT_CAP = 16 * 1024
#: Bytes of each stream (stdout, stderr) of one command held while it runs (:class:`HeadTail`).
STREAM_HEAD = STREAM_TAIL = 64 * 1024
_DROPPED = re.compile(r"\n\[\.\.\. (\d+) bytes of output dropped \.\.\.\]\n")
_MARKER_ROOM = 64  # the longest marker: two newlines, the words and a 20-digit count


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


def dropped_marker(count: int) -> str:
    """What stands where ``count`` bytes of output were left out."""
    return f"\n[... {count} bytes of output dropped ...]\n"


def cap_output(text: str, cap: int = OUTPUT_CAP) -> str:
    """At most ``cap`` characters of ``text``: its beginning (what ran) and its end (where
    errors are), with one marker between them counting every byte left out, those a
    :class:`HeadTail` had already dropped (its markers in the cut part) included."""
    if len(text) <= cap:
        return text
    head = cap // 4
    tail = len(text) - (cap - head - _MARKER_ROOM)
    for m in _DROPPED.finditer(text):  # a marker is cut whole or kept whole, never halved
        if m.start() < head < m.end():
            head = m.start()
        if m.start() < tail < m.end():
            tail = m.end()
    cut = text[head:tail]
    marked = list(_DROPPED.finditer(cut))
    unmarked = _DROPPED.sub("", cut)
    count = sum(int(m.group(1)) for m in marked) + len(unmarked.encode("utf-8", "replace"))
    return text[:head] + dropped_marker(count) + text[tail:]


class HeadTail:
    """One stream of a running command (any length) held in bounded memory: its first
    ``head`` and last ``tail`` bytes, and a count of those dropped between them. A class
    because it accumulates the stream across reads; it never holds more than
    ``head + 2 * tail`` bytes plus one chunk."""

    def __init__(self, head: int = STREAM_HEAD, tail: int = STREAM_TAIL) -> None:
        self.head_cap, self.tail_cap = head, tail
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.head_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self._tail += chunk
        excess = len(self._tail) - self.tail_cap
        if excess > self.tail_cap:  # trimmed in batches: each byte is moved a bounded number of times
            del self._tail[:excess]
            self._dropped += excess

    @property
    def dropped(self) -> int:
        return self._dropped + max(0, len(self._tail) - self.tail_cap)

    def value(self) -> bytes:
        """The head, the marker of what was dropped (when anything was), the tail."""
        tail = bytes(self._tail[-self.tail_cap:]) if self.tail_cap else b""
        if not self.dropped:
            return bytes(self._head) + tail
        return bytes(self._head) + dropped_marker(self.dropped).encode() + tail


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
