"""What a job is and how its outcome is judged, without any I/O: the fence (P5), the
probe guard's verdict (P2), how a target's failure is classed, and how per-target
results add up to a job status. The service layer and the adapters only carry data in
and out of these rules."""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from autorke_common.catalogue.executor import ACTIONS, GUARDED_ACTIONS, ExecutorRun
from autorke_common.errors import Invalid, TemporaryError
from autorke_common.k8s_names import TAINT_EFFECTS, is_label_key, is_label_value

#: Characters of a target's output kept in its result (stored, sent in its event): the
#: first quarter and the end (where errors are), the cut marked by :func:`dropped_marker`.
OUTPUT_CAP = 16 * 1024
#: Bytes of each stream (stdout, stderr) of one command held while it runs (:class:`HeadTail`).
STREAM_HEAD = STREAM_TAIL = 64 * 1024
_DROPPED = re.compile(r"\n\[\.\.\. (\d+) bytes of output dropped \.\.\.\]\n")
_MARKER_ROOM = 64  # the longest marker: two newlines, the words and a 20-digit count


class JobHeld(TemporaryError):
    """Another executor holds the job's lease (H4): this delivery runs nothing and comes
    back later (the job's own delivery is the owner's; if the owner dies its lease runs out
    and the next delivery takes the job over)."""


class LeaseLost(TemporaryError):
    """This executor's lease on the job was taken over: it writes nothing more for it."""


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




def check_node_labels_and_taints(labels: Any, taints: Any) -> None:
    """What an RKE2 node's config gets as ``node-label`` (``k=v``) and ``node-taint``
    (``k=v:effect``), checked whole (M12): Kubernetes label keys and values, and taints with
    a key and one of the three effects; anything else could split into other labels or
    taints in those strings, or fail half-way."""
    if not isinstance(labels, Mapping) or not all(is_label_key(k) and is_label_value(v) for k, v in labels.items()):
        raise InvalidJob("params.labels must map Kubernetes label keys to label values")
    if not isinstance(taints, list):
        raise InvalidJob("params.taints must be a list of {key, value, effect}")
    for t in taints:
        if not (isinstance(t, Mapping) and is_label_key(t.get("key")) and is_label_value(t.get("value", ""))
                and t.get("effect") in TAINT_EFFECTS and not set(t) - {"key", "value", "effect"}):
            raise InvalidJob(f"taint {t!r} is not {{key, value, effect}} with effect one of "
                             f"{', '.join(TAINT_EFFECTS)}")


#: a kubelet argument an RKE2 node's config takes (``max-pods=110``, ``system-reserved=cpu=1,memory=2Gi``)
KUBELET_ARG = re.compile(r"[a-z][a-z-]{0,62}=[A-Za-z0-9.,=_-]{1,200}")


def check_per_node(nodes: Any, hosts: list[str]) -> None:
    """An rke2 join's per-node part (``params.nodes``: host -> labels, taints, kubelet_args),
    checked like the shared part; a node it names must be a target of the job."""
    if not isinstance(nodes, Mapping):
        raise InvalidJob("params.nodes must map a target to its labels, taints and kubelet_args")
    for host, node in nodes.items():
        if host not in hosts or not isinstance(node, Mapping) or set(node) - {"labels", "taints", "kubelet_args"}:
            raise InvalidJob(f"params.nodes names {host!r}: a target, with labels, taints and kubelet_args only")
        check_node_labels_and_taints(node.get("labels") or {}, node.get("taints") or [])
        args = node.get("kubelet_args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) and KUBELET_ARG.fullmatch(a) for a in args):
            raise InvalidJob(f"params.nodes[{host!r}].kubelet_args must be name=value kubelet arguments")


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
        check_node_labels_and_taints(job.params.get("labels") or {}, job.params.get("taints") or [])
        check_per_node(job.params.get("nodes") or {}, hosts)
    if job.kind == "kube" and job.action == "label":
        for node, labels in (job.params.get("node_labels") or {}).items():
            if not isinstance(labels, Mapping) or not all(
                    is_label_key(k) and (v is None or is_label_value(v)) for k, v in labels.items()):
                raise InvalidJob(f"params.node_labels of {node} must map label keys to values (or null)")
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


@dataclass(frozen=True)
class RkeNode:
    """A host ``rke`` dials: its name (hostname override, else address) and where."""

    name: str
    address: str
    port: int


def rke_nodes(cluster_yml: dict[str, Any], rkestate: str | None) -> list[RkeNode]:
    """Every host ``rke`` may dial for this cluster.yml: the nodes of cluster.yml, and the
    nodes of the last applied state (``currentState.rkeConfig.nodes`` of the rkestate),
    which rke reconciles away by connecting to them and cleaning them. An unreadable state
    adds none (rke fails on it before dialling anything)."""
    nodes = list(cluster_yml.get("nodes") or [])
    if rkestate:
        try:
            current = (json.loads(rkestate).get("currentState") or {}).get("rkeConfig") or {}
            nodes += list(current.get("nodes") or [])
        except (ValueError, AttributeError):
            pass
    out: list[RkeNode] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        address = str(node.get("address") or "")
        name = str(node.get("hostname_override") or address)
        try:
            port = int(node.get("port") or 22)
        except (TypeError, ValueError):
            port = -1  # matches no endpoint: refused
        found = RkeNode(name, address, port)
        if name and found not in out:
            out.append(found)
    return out


def rke_outside_fence(cluster_yml: dict[str, Any], rkestate: str | None, fence: Iterable[str],
                      endpoints: Mapping[str, tuple[str, int]]) -> list[str]:
    """The hosts rke may dial that it must not (P5, H1), each with why: a node passes only
    when its name is in the fence **and** it is dialled at that host's endpoint in the job
    (``endpoints``: host -> (address, port), from the job's targets, the addresses the
    change was planned and approved with). A fenced name on another address (an option or
    an edited cluster.yml pointing ``m001`` at 10.9.9.9) is refused like a stranger."""
    allowed = set(fence)
    outside = []
    for node in rke_nodes(cluster_yml, rkestate):
        where = f"{node.address}:{node.port}"
        if node.name not in allowed:
            outside.append(node.name)
        elif node.name not in endpoints:
            outside.append(f"{node.name} (no endpoint of it in the job)")
        elif tuple(endpoints[node.name]) != (node.address, node.port):
            address, port = endpoints[node.name]
            outside.append(f"{node.name} at {where} (its endpoint is {address}:{port})")
    return outside


#: keys of a node (and of the bastion) that name another SSH identity than the executor's
SSH_IDENTITY_KEYS = ("ssh_key", "ssh_key_path", "ssh_cert", "ssh_cert_path")


def with_fleet_key(cluster_yml: dict[str, Any], key_path: str) -> dict[str, Any]:
    """The cluster.yml rke is given: every node and the bastion reached with the executor's
    own key (``ssh_key_path``), whatever the stored cluster.yml named. An imported
    cluster.yml names the keys of the machine it came from (``~/.ssh/id_rsa`` by default,
    or any file there), which on the executor would be nothing, or a file that is no key
    of the fleet; options may not name keys at all (H1)."""
    def own(entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        return {k: v for k, v in entry.items() if k not in SSH_IDENTITY_KEYS}

    out = {k: v for k, v in cluster_yml.items() if k not in SSH_IDENTITY_KEYS}
    out["ssh_key_path"] = key_path
    if isinstance(out.get("nodes"), list):
        out["nodes"] = [own(n) for n in out["nodes"]]
    if "bastion_host" in out:
        out["bastion_host"] = own(out["bastion_host"])
    return out


#: What a signer other than the orchestrator may ask of the executor (C2): the inventory
#: only the read-only jobs it sends itself (facts of machines, a cluster's node listing).
SIGNER_JOBS: dict[str, frozenset[tuple[str, str]]] = {
    "inventory": frozenset({("script", "facts"), ("kube", "list_nodes")}),
}


def signer_may_run(signer: str, kind: Any, action: Any) -> bool:
    """Whether ``signer`` may ask for this job: the orchestrator any job of a change (the
    saga's own fence check limits it), another trusted signer only its own kinds."""
    if signer == "orchestrator":
        return True
    return (kind, action) in SIGNER_JOBS.get(signer, frozenset())


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
