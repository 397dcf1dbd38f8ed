"""Discovery documents (``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/G/V``) built
from the resource table, in the shapes the official client's DynamicClient and kubectl read.
"""
from __future__ import annotations

from typing import Any

from .resources import RESOURCES, group_versions


def version_info(git_version: str) -> dict[str, str]:
    core = git_version.lstrip("v").split("+")[0].split(".")
    return {
        "major": core[0], "minor": core[1] if len(core) > 1 else "0",
        "gitVersion": git_version, "gitCommit": "0" * 40, "gitTreeState": "clean",
        "buildDate": "2024-08-15T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(n, vs) for n, vs in group_versions().items()]}


def group(name: str) -> dict[str, Any] | None:
    versions = group_versions().get(name)
    if not versions:
        return None
    return dict(_group(name, versions), kind="APIGroup", apiVersion="v1")


def resource_list(group_name: str, version: str) -> dict[str, Any] | None:
    served = [r for r in RESOURCES if (r.group, r.version) == (group_name, version)]
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular,
                                 "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs()}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        entries.append(entry)
        for sub in r.subresources:
            if sub == "eviction":
                entries.append({"name": f"{r.plural}/eviction", "singularName": "",
                                "namespaced": True, "group": "policy", "version": "v1",
                                "kind": "Eviction", "verbs": ["create"]})
            else:
                entries.append({"name": f"{r.plural}/{sub}", "singularName": "",
                                "namespaced": r.namespaced, "kind": r.kind,
                                "verbs": ["get", "patch", "update"]})
    group_version = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": entries}
