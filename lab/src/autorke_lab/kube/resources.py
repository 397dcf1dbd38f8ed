"""The resource types the lab API serves: one table drives routing, discovery and patching.

A real API server learns its resources from Go types and CRDs; the lab declares the few the
platform uses. ``merge_keys`` lists the strategic-merge list keys (``patchMergeKey`` in the
Go types) for the lists that merge; every other list is replaced by a patch, as with
``spec.taints``. Custom resources (``custom=True``) refuse strategic merge like real CRDs.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Resource:
    group: str                  # "" is the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    custom: bool = False
    has_status: bool = False    # a /status subresource; the main endpoint keeps status
    subresources: tuple[str, ...] = ()
    merge_keys: dict[str, str] = field(default_factory=dict)
    field_labels: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def verbs(self) -> list[str]:
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                "watch"]


_META = {"metadata.ownerReferences": "uid"}
_CONDITIONS = {"status.conditions": "type"}
_CALICO = "crd.projectcalico.org"


def _calico(plural: str, kind: str, short: tuple[str, ...] = ()) -> Resource:
    return Resource(_CALICO, "v1", plural, kind, namespaced=False, singular=kind.lower(),
                    short_names=short, custom=True)


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",),
             has_status=True, subresources=("status",), merge_keys=dict(_META, **_CONDITIONS),
             field_labels=("status.phase",)),
    Resource("", "v1", "nodes", "Node", False, "node", ("no",), has_status=True,
             subresources=("status",),
             merge_keys=dict(_META, **_CONDITIONS, **{"status.addresses": "type",
                                                       "status.volumesAttached": "name"}),
             field_labels=("spec.unschedulable",)),
    Resource("", "v1", "pods", "Pod", True, "pod", ("po",), has_status=True,
             subresources=("status", "eviction"),
             merge_keys=dict(_META, **_CONDITIONS, **{
                 "spec.containers": "name", "spec.initContainers": "name",
                 "spec.volumes": "name", "status.containerStatuses": "name"}),
             field_labels=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                           "spec.serviceAccountName", "status.phase", "status.podIP",
                           "status.nominatedNodeName")),
    Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True,
             "poddisruptionbudget", ("pdb",), has_status=True, subresources=("status",),
             merge_keys=dict(_META, **_CONDITIONS)),
    Resource("apps", "v1", "replicasets", "ReplicaSet", True, "replicaset", ("rs",),
             has_status=True, subresources=("status",), merge_keys=dict(_META)),
    Resource("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",),
             has_status=True, subresources=("status",), merge_keys=dict(_META)),
    _calico("ippools", "IPPool"),
    _calico("bgppeers", "BGPPeer"),
    _calico("bgpconfigurations", "BGPConfiguration"),
    _calico("ipamblocks", "IPAMBlock"),
)

NODES = RESOURCES[1]
PODS = RESOURCES[2]
NAMESPACES = RESOURCES[0]
PDBS = RESOURCES[3]
REPLICASETS = RESOURCES[4]
DAEMONSETS = RESOURCES[5]


def find(group: str, version: str, plural: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def group_versions() -> dict[str, list[str]]:
    """Named groups (core excluded) with their versions, in serving order."""
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group and resource.version not in groups.setdefault(resource.group, []):
            groups[resource.group].append(resource.version)
    return groups
