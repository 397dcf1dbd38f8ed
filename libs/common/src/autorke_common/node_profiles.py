"""Node profiles and the CMDB label mapping (issue 18: the seed's "default or custom add
configuration"). Both are per-cluster documents the inventory versions; the orchestrator
reads their latest versions from the inventory's events and turns them, with each
machine's CMDB facts, into what ``node.add`` gives every new node.

- A **node profile** names the init profile, the labels and taints every node gets, the
  kubelet settings (per node: RKE2's ``kubelet-arg``; RKE1 takes none per node), and the
  flat-network option (a VCalico ticket inside the change). The profile called
  ``default`` is the cluster's default; a cluster that never stored one has
  :data:`DEFAULT_PROFILE`.
- The **label mapping** turns CMDB fields into labels: rack, IDC, GPU model and count,
  plus a fixed set, and taints for GPU nodes. A cluster that never stored one has
  :data:`DEFAULT_MAPPING`.

What a node gets (:func:`node_spec`): the mapping's fixed labels, then the profile's
labels, then the CMDB-derived ones (the CMDB is the truth about where a machine stands: a
profile cannot say a machine is in another rack). Validation names the offending field
(``profile.kubelet.max_pods``) and happens wherever a profile enters: the inventory's REST
API, and a change's custom profile before any row exists.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from autorke_common.errors import Invalid
from autorke_common.k8s_names import AnyLabelKey, Labels, Taint, as_label_value, refuse

DOCUMENT_KINDS = ("node-profile", "label-mapping")
DEFAULT = "default"
#: init profiles the executor's scripts/init.sh knows
INIT_PROFILES = ("base", "container-runtime", "gpu")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_CPU = re.compile(r"[0-9]+(\.[0-9]{1,3})?m?")
_MEMORY = re.compile(r"[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?")


def document_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise refuse(f"{value!r} is not a profile name (lowercase letters, digits and '-', at most 63)")
    return value


def _cpu(value: str) -> str:
    if not _CPU.fullmatch(value):
        raise refuse(f"{value!r} is not a CPU quantity (e.g. 500m or 1.5)")
    return value


def _memory(value: str) -> str:
    if not _MEMORY.fullmatch(value):
        raise refuse(f"{value!r} is not a memory quantity (e.g. 512Mi or 2Gi)")
    return value


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise refuse(f"{value!r} is not a network in CIDR form: {exc}") from None
    return value


DocumentName = Annotated[str, AfterValidator(document_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reserved(_Model):
    cpu: Annotated[str, AfterValidator(_cpu)] | None = None
    memory: Annotated[str, AfterValidator(_memory)] | None = None

    def arg(self) -> str:
        return ",".join(f"{k}={v}" for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v)


class Kubelet(_Model):
    """kubelet settings a node takes for itself (RKE2 ``kubelet-arg``)."""

    max_pods: int | None = Field(default=None, ge=10, le=2500)
    system_reserved: Reserved | None = None
    kube_reserved: Reserved | None = None

    def args(self) -> list[str]:
        out = [f"max-pods={self.max_pods}"] if self.max_pods else []
        for name, reserved in (("system-reserved", self.system_reserved), ("kube-reserved", self.kube_reserved)):
            if reserved and reserved.arg():
                out.append(f"{name}={reserved.arg()}")
        return out


class FlatNetwork(_Model):
    """The flat-network option: the nodes are peered with their racks' ToR switches through
    a VCalico ticket, steps of the same change. ``required``: a node without its network is
    of no use, so cancelling the change removes the nodes too. The pool's CIDR is usually
    the change's own (``params.network.cidr``); a profile may give one for a one-off."""

    enabled: bool = False
    required: bool = False
    pool_prefix: Annotated[str, AfterValidator(document_name)] = "flat"
    cidr: Annotated[str, AfterValidator(_cidr)] | None = None
    block_size: int = Field(default=26, ge=20, le=32)
    #: this many of the new nodes (in name order) become route reflectors
    route_reflectors: int = Field(default=0, ge=0, le=8)
    as_numbers: dict[Annotated[str, AfterValidator(as_label_value)], int] = Field(default_factory=dict)


class NodeProfile(_Model):
    description: str = Field(default="", max_length=500)
    init_profile: Literal[INIT_PROFILES] = "container-runtime"
    labels: Labels = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    kubelet: Kubelet = Field(default_factory=Kubelet)
    network: FlatNetwork = Field(default_factory=FlatNetwork)


class LabelMapping(_Model):
    """CMDB field -> node label key (None: not labelled), the fixed labels every node of
    the cluster gets, and the taints of nodes with a GPU."""

    rack: AnyLabelKey | None = "topology.kubernetes.io/zone"
    idc: AnyLabelKey | None = "topology.kubernetes.io/region"
    gpu_product: AnyLabelKey | None = "nvidia.com/gpu.product"
    gpu_count: AnyLabelKey | None = "nvidia.com/gpu.count"
    fixed: Labels = Field(default_factory=dict)
    gpu_taints: list[Taint] = Field(default_factory=list)


DEFAULT_PROFILE = NodeProfile(description="built in: the container runtime, no labels, no flat network")
DEFAULT_MAPPING = LabelMapping()
MODELS: dict[str, type[_Model]] = {"node-profile": NodeProfile, "label-mapping": LabelMapping}


class MachineFacts(BaseModel):
    """What the CMDB says of a machine that labels can come from."""

    model_config = ConfigDict(extra="ignore")
    rack: str | None = None
    idc: str | None = None
    gpu_model: str | None = None
    gpu_count: int = 0


def _field(prefix: str, loc: tuple[int | str, ...]) -> str:
    return ".".join([prefix, *(str(p) for p in loc if p != "[key]")])


def parse(kind: str, spec: Any, field: str = "spec") -> NodeProfile | LabelMapping:
    """A document of ``kind`` validated; :class:`Invalid` naming the first bad field
    (``errors``: every one)."""
    if kind not in MODELS:
        raise Invalid("invalid-request", f"kind {kind!r} is not one of {', '.join(DOCUMENT_KINDS)}", field="kind")
    try:
        return MODELS[kind].model_validate(spec)
    except ValidationError as exc:
        errors = [{"field": _field(field, e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise Invalid(f"invalid-{kind}", "; ".join(f"{e['field']}: {e['message']}" for e in errors),
                      field=errors[0]["field"], errors=errors) from None


def check_for_provider(profile: NodeProfile, provider: str, field: str = "spec") -> None:
    """RKE1 takes no kubelet setting per node (its cluster.yml has them cluster-wide only)."""
    if provider == "rke" and profile.kubelet.args():
        raise Invalid("invalid-node-profile", "RKE1 takes no kubelet setting per node; set "
                      "services.kubelet.extra_args in cluster.yml with a config.update instead",
                      field=f"{field}.kubelet")


def node_spec(profile: NodeProfile, mapping: LabelMapping, facts: MachineFacts) -> dict[str, Any]:
    """What one new node gets: ``labels``, ``taints``, ``kubelet_args``, and ``rack`` (the
    rack value as labelled, for the flat-network ticket; None without one)."""
    derived: dict[str, str] = {}
    for key, value in ((mapping.rack, facts.rack), (mapping.idc, facts.idc)):
        if key and value and as_label_value(value):
            derived[key] = as_label_value(value)
    gpu = bool(facts.gpu_count and facts.gpu_model)
    if gpu and mapping.gpu_product and as_label_value(facts.gpu_model):
        derived[mapping.gpu_product] = as_label_value(facts.gpu_model)
    if gpu and mapping.gpu_count:
        derived[mapping.gpu_count] = str(facts.gpu_count)
    labels = {**mapping.fixed, **profile.labels, **derived}
    taints = [t.model_dump() for t in profile.taints]
    if gpu:
        taints += [t.model_dump() for t in mapping.gpu_taints if t.key not in {x["key"] for x in taints}]
    rack = derived.get(mapping.rack) if mapping.rack else None
    return {"labels": labels, "taints": taints, "kubelet_args": profile.kubelet.args(), "rack": rack}
