"""Machine actions offered on the Machines page, as change requests (DESIGN.md section 3):
what each action is called, which change type it becomes, its form's defaults, and how a
submitted form turns into the ``POST /api/v1/changes`` body. A node add names one of the
cluster's node profiles, or gives a custom one as YAML, and the pool CIDR of its flat
network when the profile asks for one. Form mistakes (a label with
no ``=``, a taint with a bad effect) are reported per field before anything is sent."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from autorke_common import untrusted_yaml
from autorke_common.k8s_names import TAINT_EFFECTS
from autorke_common.node_profiles import INIT_PROFILES

NODE_ROLES = ("worker", "controlplane", "etcd")


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    change_type: str
    needs_cluster: bool = False
    fields: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)


ACTIONS: dict[str, Action] = {a.key: a for a in (
    Action("add", "add_to_cluster", "node.add", True,
           ("cluster", "role", "labels", "taints", "config", "node_profile", "network_cidr"),
           {"role": "worker", "config": "default", "node_profile": "default"}),
    Action("remove", "remove_from_cluster", "node.remove", True, ("cluster",)),
    Action("update", "update_labels", "node.update", True, ("cluster", "labels", "taints")),
    Action("init", "init", "machine.init", False, ("profile",), {"profile": "base"}),
    Action("cleanup", "cleanup", "machine.cleanup", False, ()),
    Action("refresh", "refresh_facts", "machine.refresh_facts", False, ()),
)}


#: What each action needs of a machine: (states it may be in, whether it must be a member).
#: The row menu offers only these; the API still refuses anything else, for any caller.
_OFFERED = {
    "add": (("available", "ready"), False),
    "remove": (("member", "faulty", "joining"), True),
    "update": (("member",), True),
    "init": (("available",), False),
    "cleanup": (("ready", "faulty"), False),
    "refresh": (("available", "ready", "member", "faulty", "initializing", "joining", "draining",
                 "removing", "cleaning"), None),
}


def actions_for(machine: Mapping[str, Any]) -> list[str]:
    """The actions the machine's state allows, in menu order: add only for a free machine,
    remove and update only for a member, init for an available one, cleanup for a ready or
    faulty one that is in no cluster, refresh for any machine not retired."""
    state, member = machine.get("state"), bool(machine.get("cluster"))
    return [key for key, (states, needs_member) in _OFFERED.items()
            if state in states and (needs_member is None or needs_member == member)]


class FormErrors(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for raw in text.replace(",", "\n").splitlines():
        line = raw.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{line!r} is not key=value")
        labels[key.strip()] = value.strip()
    return labels


def parse_taints(text: str) -> list[dict[str, str]]:
    taints = []
    for raw in text.replace(",", "\n").splitlines():
        line = raw.strip()
        if not line:
            continue
        head, sep, effect = line.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise ValueError(f"{line!r} is not key[=value]:{'|'.join(TAINT_EFFECTS)}")
        key, _, value = head.partition("=")
        if not key.strip():
            raise ValueError(f"{line!r} has no key")
        taints.append({"key": key.strip(), "value": value.strip(), "effect": effect})
    return taints


def custom_profile(text: str) -> dict[str, Any]:
    """A custom node profile pasted as YAML (the orchestrator checks its fields)."""
    if not text.strip():
        raise ValueError("paste the custom node profile, or choose one of the cluster's profiles")
    try:
        value = untrusted_yaml.load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("a node profile is a mapping (labels, taints, kubelet, network, ...)")  # noqa: TRY004 - a form field's mistake
    return value


def change_request(action: Action, targets: list[str], form: dict[str, str], dry_run: bool) -> dict:
    """The change body for ``action`` on ``targets`` from the submitted form fields."""
    errors: dict[str, str] = {}
    if not targets:
        errors["targets"] = "choose at least one machine"
    cluster = (form.get("cluster") or "").strip()
    if action.needs_cluster and not cluster:
        errors["cluster"] = "choose a cluster"
    params: dict[str, Any] = {}
    if "role" in action.fields:
        role = form.get("role") or action.defaults.get("role", "worker")
        if role not in NODE_ROLES:
            errors["role"] = f"one of {', '.join(NODE_ROLES)}"
        params["role"] = role
    if "labels" in action.fields:
        try:
            params["labels"] = parse_labels(form.get("labels", ""))
        except ValueError as exc:
            errors["labels"] = str(exc)
    if "taints" in action.fields:
        try:
            params["taints"] = parse_taints(form.get("taints", ""))
        except ValueError as exc:
            errors["taints"] = str(exc)
    if "profile" in action.fields:
        profile = form.get("profile") or action.defaults["profile"]
        if profile not in INIT_PROFILES:
            errors["profile"] = f"one of {', '.join(INIT_PROFILES)}"
        params["profile"] = profile
    if "config" in action.fields and form.get("config") == "custom":
        try:
            params["custom_profile"] = custom_profile(form.get("custom_config") or "")
        except ValueError as exc:
            errors["custom_config"] = str(exc)
    elif "node_profile" in action.fields and (form.get("node_profile") or "default") != "default":
        params["node_profile"] = form["node_profile"]
    if "network_cidr" in action.fields and (form.get("network_cidr") or "").strip():
        params["network"] = {"cidr": form["network_cidr"].strip()}
    if errors:
        raise FormErrors(errors)
    body: dict[str, Any] = {"type": action.change_type, "targets": targets, "params": params,
                            "dry_run": dry_run}
    if cluster:
        body["cluster"] = cluster
    return body
