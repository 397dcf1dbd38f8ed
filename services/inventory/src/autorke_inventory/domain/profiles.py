"""The rules of a cluster's node documents (issue 18): node profiles and the CMDB label
mapping (:mod:`autorke_common.node_profiles` says what they mean). Which names a document
may take, what a spec must be to be stored (and the form it is stored in: the model's
normalised dump, so two writes that mean the same are the same), the built-in version 0,
and how two versions are compared (their specs as YAML, keys sorted)."""
from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic_core import PydanticCustomError

from autorke_common import node_profiles
from autorke_common.errors import Invalid
from autorke_common.node_profiles import DEFAULT, DEFAULT_MAPPING, DEFAULT_PROFILE, NodeProfile

NODE_PROFILE, LABEL_MAPPING = node_profiles.DOCUMENT_KINDS
#: What a cluster that never stored ``default`` of a kind has, shown as its version 0.
BUILTIN = {NODE_PROFILE: DEFAULT_PROFILE, LABEL_MAPPING: DEFAULT_MAPPING}


def checked_name(kind: str, name: str) -> str:
    """``name`` if a document may be called so (the label mapping has one: ``default``)."""
    if kind == LABEL_MAPPING and name != DEFAULT:
        raise Invalid(f"invalid-{kind}", f"a cluster has one label mapping, {DEFAULT!r}", field="name")
    try:
        return node_profiles.document_name(name)
    except PydanticCustomError as exc:
        raise Invalid(f"invalid-{kind}", str(exc), field="name") from None


def checked_spec(kind: str, spec: Any, provider: str) -> dict[str, Any]:
    """The spec as it is stored: validated (``invalid-<kind>`` naming the field, e.g.
    ``spec.kubelet.max_pods``), fit for the cluster's provider, normalised by its model."""
    document = node_profiles.parse(kind, spec)
    if isinstance(document, NodeProfile):
        node_profiles.check_for_provider(document, provider)
    return document.model_dump(mode="json")


def builtin(kind: str, name: str) -> dict[str, Any] | None:
    """The spec of version 0 of ``name``: the built-in default (None: ``name`` has none)."""
    return BUILTIN[kind].model_dump(mode="json") if name == DEFAULT else None


def as_yaml(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=True, default_flow_style=False)


def diff(name: str, old: int, before: dict[str, Any], new: int, after: dict[str, Any]) -> str:
    """The unified diff of two versions' specs as YAML (empty when they are the same)."""
    return "".join(difflib.unified_diff(as_yaml(before).splitlines(keepends=True),
                                        as_yaml(after).splitlines(keepends=True),
                                        f"{name}@{old}", f"{name}@{new}"))
