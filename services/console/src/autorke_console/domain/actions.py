"""Machine actions offered on the Machines page, as change requests (DESIGN.md section 3):
what each action is called, which change type it becomes, its form's defaults, and how a
submitted form turns into the ``POST /api/v1/changes`` body. Form mistakes (a label with
no ``=``, a taint with a bad effect) are reported per field before anything is sent."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
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
    Action("add", "add_to_cluster", "node.add", True, ("cluster", "role", "labels", "taints", "config"),
           {"role": "worker", "config": "default"}),
    Action("remove", "remove_from_cluster", "node.remove", True, ("cluster",)),
    Action("update", "update_labels", "node.update", True, ("cluster", "labels", "taints")),
    Action("init", "init", "machine.init", False, ("profile",), {"profile": "base"}),
    Action("cleanup", "cleanup", "machine.cleanup", False, ()),
    Action("refresh", "refresh_facts", "machine.refresh_facts", False, ()),
)}
INIT_PROFILES = ("base", "container-runtime", "gpu")


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
        custom = (form.get("custom_config") or "").strip()
        if not custom:
            errors["custom_config"] = "paste the custom configuration, or choose the default"
        params["config"] = {"mode": "custom", "content": custom}
    if errors:
        raise FormErrors(errors)
    body: dict[str, Any] = {"type": action.change_type, "targets": targets, "params": params,
                            "dry_run": dry_run}
    if cluster:
        body["cluster"] = cluster
    return body
