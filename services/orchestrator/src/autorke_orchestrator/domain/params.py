"""What each change type accepts in ``params``, checked when the change is planned.

The flows hand these values on: labels and taints to the Kubernetes API, the rke2 config
file and the inventory, a snapshot name and an init profile as arguments of a script run
over SSH. So nothing reaches a flow that it does not read, and nothing in the shape or
syntax its consumers expect is left for them to trip on: a value like ``$(reboot)`` is
refused here, before any row, lock or event exists, not later on a machine.

Every pattern is applied with ``re.fullmatch``: ``re.match(... $)`` would let a trailing
newline through. :func:`validated` answers the normalised params (defaults filled in,
absent fields left out) the flow sees and the change stores, or raises
:class:`InvalidParams` naming every offending field.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from autorke_common.errors import Invalid
from autorke_common.k8s_names import Labels, LabelValue, TaintKey, refuse
from autorke_common.node_profiles import INIT_PROFILES, document_name

#: The executor's etcd scripts take the name as a file name under the snapshot directory.
SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ROLE = re.compile(r"[a-z][a-z-]{0,31}")


def snapshot_name(value: str) -> str:
    if not SNAPSHOT_NAME.fullmatch(value) or ".." in value:
        raise refuse(f"{value!r} is not a snapshot name (a letter or digit, then at most 127 "
                     "letters, digits, '.', '_', '-'; no '..')")
    return value


def role_name(value: str) -> str:
    if not ROLE.fullmatch(value):
        raise refuse(f"{value!r} is not a role name")
    return value


SnapshotName = Annotated[str, AfterValidator(snapshot_name)]
Role = Annotated[str, AfterValidator(role_name)]


# -- ippool.*: a Calico pool spec (netcfg judges it against the cluster; here only its shape)
_POOL_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def pool_name(value: str) -> str:
    if len(value) > 253 or not _POOL_NAME.fullmatch(value):
        raise refuse(f"{value!r} is not a pool name (a lowercase RFC 1123 name)")
    return value


def cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise refuse(f"{value!r} is not a network in CIDR form: {exc}") from None
    return value


Cidr = Annotated[str, AfterValidator(cidr)]
PoolName = Annotated[str, AfterValidator(pool_name)]


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Taint(Params):
    key: TaintKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class MachineInit(Params):
    profile: Literal[INIT_PROFILES] | None = None


class NoParams(Params):
    """node.remove, machine.cleanup: nothing to choose."""


class NetworkChoice(Params):
    """node.add's flat network for this change: the pool's CIDR (each ticket's pool is its
    own), its name (default: the profile's prefix and the CIDR), or ``enabled: false`` to
    add the nodes without the profile's flat network."""

    enabled: bool | None = None
    cidr: Cidr | None = None
    pool_name: PoolName | None = None


class NodeAdd(Params):
    """node.add and node.add_core. Which roles are allowed is the flow's guard (P4,
    ``role-not-allowed``); here only their shape. ``node_profile`` names one of the
    cluster's node profiles (``default`` unless given), ``custom_profile`` is a whole
    profile for this change only (:mod:`autorke_common.node_profiles`, checked when the
    change is planned); ``labels`` and ``taints`` come on top of the profile's."""

    role: Role | None = None
    roles: list[Role] | None = Field(default=None, max_length=3)
    labels: Labels | None = None
    taints: list[Taint] | None = None
    profile: Literal[INIT_PROFILES] | None = None
    node_profile: Annotated[str, AfterValidator(document_name)] | None = None
    custom_profile: dict[str, Any] | None = None
    network: NetworkChoice | None = None


class NodeUpdate(Params):
    labels: Labels | None = None
    taints: list[Taint] | None = None
    remove_taints: list[TaintKey] | None = None


class EtcdSnapshot(Params):
    """etcd.snapshot and etcd.restore: the executor's scripts refuse an empty name, so a
    change without one could never succeed."""

    snapshot_name: SnapshotName


ConfigKindName = Literal["options", "cluster.yml", "cluster.rkestate", "kubeconfig"]


class ConfigProposal(Params):
    """config.update, config.import, config.rollback: the inventory's proposal (its content
    stays there, sealed: an rkestate holds every key of the cluster, and params travel in
    events), its digest, the kinds it writes, and for a rollback the version restored."""

    proposal: Annotated[str, Field(pattern=r"^prp-[0-9a-f]{16}$")]
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
    kinds: list[ConfigKindName] = Field(min_length=1, max_length=4)
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


EncapMode = Literal["Never", "Always", "CrossSubnet"]


class PoolSpec(Params):
    """A Calico IPPool spec, in the CRD's field names."""

    cidr: Annotated[str, AfterValidator(cidr)]
    blockSize: int | None = Field(default=None, ge=20, le=128)
    ipipMode: EncapMode = "Never"
    vxlanMode: EncapMode = "Never"
    natOutgoing: bool = False
    disabled: bool = False
    nodeSelector: str = Field(default="all()", max_length=1024)
    disableBGPExport: bool = False


class IPPoolWrite(Params):
    """ippool.create and ippool.update: the pool, the spec asked for and (update) the spec
    netcfg read when it took the request: what the approver sees as "before"."""

    name: Annotated[str, AfterValidator(pool_name)]
    spec: PoolSpec
    previous: PoolSpec | None = None


class IPPoolTarget(Params):
    """ippool.delete, ippool.enable, ippool.disable: the pool, and its spec as read."""

    name: Annotated[str, AfterValidator(pool_name)]
    previous: PoolSpec | None = None


PARAMS: dict[str, type[Params]] = {
    "machine.init": MachineInit,
    "machine.cleanup": NoParams,
    "node.add": NodeAdd,
    "node.add_core": NodeAdd,
    "node.remove": NoParams,
    "node.update": NodeUpdate,
    "etcd.snapshot": EtcdSnapshot,
    "etcd.restore": EtcdSnapshot,
    "ippool.create": IPPoolWrite,
    "ippool.update": IPPoolWrite,
    "ippool.delete": IPPoolTarget,
    "ippool.enable": IPPoolTarget,
    "ippool.disable": IPPoolTarget,
    "config.update": ConfigProposal,
    "config.import": ConfigProposal,
    "config.rollback": ConfigProposal,
}


class InvalidParams(Invalid):
    """The params of a change request break their change type's rules. ``errors`` lists
    each offending field as ``{"field": "params.<path>", "message": ...}``; ``field`` is
    the first of them (both travel to the caller)."""

    def __init__(self, change_type: str, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        self.field = errors[0]["field"]
        super().__init__("invalid-params", f"{change_type}: " + "; ".join(
            f"{e['field']}: {e['message']}" for e in errors), field=self.field, errors=errors)


def _field(loc: tuple[int | str, ...]) -> str:
    # a dict key's own error ends its location with "[key]": the key names the field
    return ".".join(["params", *(str(p) for p in loc if p != "[key]")])


def validated(change_type: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        model = PARAMS[change_type].model_validate(params)
    except ValidationError as exc:
        raise InvalidParams(change_type, [{"field": _field(e["loc"]), "message": e["msg"]}
                                          for e in exc.errors()]) from None
    return model.model_dump(exclude_none=True)
