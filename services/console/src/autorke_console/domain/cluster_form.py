"""The Register cluster form and the Import form: their fields and the request bodies sent
to the inventory (``POST /api/v1/clusters``, ``POST /api/v1/clusters/{name}:import``).

Only the form's own syntax is checked here (a field that must be filled is filled, a list
is split); every rule about a cluster (a DNS-label name, networks that are networks, a
name already taken, a cluster.yml that passes the config rules) is the inventory's, and
its answer is shown next to the field it is about."""
from __future__ import annotations

import re
from typing import Any

PROVIDERS = ("rke2", "rke")
FIELDS = ("name", "provider", "api_endpoint", "kubeconfig", "join_address", "join_token",
          "host_networks", "pod_cidr", "service_cidr")
DEFAULTS = {"provider": "rke2", "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16"}
#: never sent back into a page (a re-shown form asks for them again)
SECRET_FIELDS = ("kubeconfig", "join_token", "cluster_yml", "rkestate")
IMPORT_SOURCES = ("kubernetes", "files")


def networks(text: str) -> list[str]:
    """Host networks typed one per line or separated by commas or spaces."""
    return [part for part in re.split(r"[\s,]+", text or "") if part]


def registration_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(body, errors)`` for ``POST /api/v1/clusters``."""
    errors: dict[str, str] = {}
    value = {k: (form.get(k) or "").strip() for k in FIELDS}
    if not value["name"]:
        errors["name"] = "a name is required"
    if value["provider"] not in PROVIDERS:
        errors["provider"] = f"one of {', '.join(PROVIDERS)}"
    body: dict[str, Any] = {"name": value["name"], "provider": value["provider"],
                            "host_networks": networks(value["host_networks"])}
    for key in ("pod_cidr", "service_cidr"):
        body[key] = value[key] or DEFAULTS[key]
    for key in ("api_endpoint", "kubeconfig"):
        if value[key]:
            body[key] = value[key]
    if value["provider"] == "rke2":
        for key in ("join_address", "join_token"):
            if value[key]:
                body[key] = value[key]
        if bool(value["join_address"]) != bool(value["join_token"]):
            missing = "join_token" if value["join_address"] else "join_address"
            errors[missing] = "a join address and its token go together (a new node needs both)"
    elif value["join_address"] or value["join_token"]:
        errors["join_address"] = "only an RKE2 cluster has a join address and token"
    return body, errors


def import_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(body, errors)`` for ``POST /api/v1/clusters/{name}:import``."""
    source = form.get("source") or "kubernetes"
    if source not in IMPORT_SOURCES:
        return {}, {"source": f"one of {', '.join(IMPORT_SOURCES)}"}
    if source == "kubernetes":
        return {"source": "kubernetes"}, {}
    body: dict[str, Any] = {"source": "files", "cluster_yml": form.get("cluster_yml") or ""}
    errors = {} if body["cluster_yml"].strip() else {"cluster_yml": "choose the cluster.yml file"}
    if (form.get("rkestate") or "").strip():
        body["rkestate"] = form["rkestate"]
    return body, errors


def shown_again(form: dict[str, str]) -> dict[str, str]:
    """The posted values to fill a re-shown form with: never a secret or a file."""
    return {k: v for k, v in form.items() if k not in SECRET_FIELDS}
