"""Kubernetes node roles, labels and taints as the inventory accepts them: the RKE roles
only, label keys and values Kubernetes would accept, taints with a known effect."""
from __future__ import annotations

from autorke_common.errors import Invalid
from autorke_common.k8s_names import TAINT_EFFECTS, is_label_key, is_label_value

ROLES = ("etcd", "controlplane", "worker")
ROLE_LABELS = {  # node labels RKE and RKE2 set for each role
    "etcd": ("node-role.kubernetes.io/etcd",),
    "controlplane": ("node-role.kubernetes.io/controlplane", "node-role.kubernetes.io/control-plane",
                     "node-role.kubernetes.io/master"),
    "worker": ("node-role.kubernetes.io/worker",),
}


def check_roles(roles: list[str]) -> list[str]:
    """The roles, sorted and de-duplicated; refuses an unknown or empty set."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise Invalid("invalid-request", f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    if not roles:
        raise Invalid("invalid-request", "a cluster member needs at least one role")
    return sorted(set(roles))


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not is_label_key(key) or not is_label_value(str(value)):
            raise Invalid("invalid-request", f"label {key}={value} is not a valid Kubernetes label")
    return dict(sorted(labels.items()))


def check_taints(taints: list[dict]) -> list[dict]:
    """Each taint as ``{"key", "value", "effect"}`` (M12): a Kubernetes label key, a label
    value (or empty), one of the three effects (``NoSchedule`` when not given); anything
    else, or another field, is refused, so what is stored is what a node can carry."""
    if not isinstance(taints, list):
        raise Invalid("invalid-request", "taints must be a list of {key, value, effect}", field="taints")
    out = []
    for taint in taints:
        if not isinstance(taint, dict) or set(taint) - {"key", "value", "effect"}:
            raise Invalid("invalid-request", f"taint {taint!r} is not {{key, value, effect}}", field="taints")
        key, value = taint.get("key"), taint.get("value") or ""
        effect = taint.get("effect") or "NoSchedule"
        if not is_label_key(key) or not is_label_value(value) or effect not in TAINT_EFFECTS:
            raise Invalid("invalid-request", f"taint {key}={value}:{effect} is not a valid Kubernetes taint "
                          f"(a label key, a label value, and {', '.join(TAINT_EFFECTS)})", field="taints")
        out.append({"key": key, "value": value, "effect": effect})
    return out


def roles_from_node_labels(labels: dict[str, str]) -> list[str]:
    """The RKE roles a Kubernetes node shows by its labels."""
    return sorted(role for role, keys in ROLE_LABELS.items() if any(k in labels for k in keys))
