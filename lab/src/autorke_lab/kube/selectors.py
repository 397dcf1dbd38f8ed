"""Label and field selectors, parsed once and matched against stored objects.

The grammar is the one ``k8s.io/apimachinery/pkg/labels`` accepts: ``k``, ``!k``,
``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, comma-separated (ANDed).
Field selectors take ``=``, ``==`` and ``!=`` over the resource's supported field labels.
``LabelSelector`` objects (``matchLabels``/``matchExpressions``) used by PDBs, ReplicaSets
and DaemonSets are matched by :func:`matches_selector_object`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .status import bad_request

Predicate = Callable[[Mapping[str, str]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _split_requirements(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _requirement(text: str) -> Predicate:
    eq = _EQ_RE.match(text)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET_RE.match(text)
    if not match:
        raise bad_request(f"unable to parse requirement: {text.strip()!r}")
    negated, key, op, values = match.groups()
    if op:
        if negated:
            raise bad_request(f"unable to parse requirement: {text.strip()!r}")
        choices = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in choices
        return lambda labels: labels.get(key) not in choices
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(text: str | None) -> Predicate:
    if not text or not text.strip():
        return lambda labels: True
    requirements = [_requirement(part) for part in _split_requirements(text)]
    return lambda labels: all(req(labels) for req in requirements)


def object_labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "false" if path == "spec.unschedulable" else ""
    return str(value)


def parse_field_selector(text: str | None, supported: tuple[str, ...],
                         namespaced: bool) -> Callable[[Mapping[str, Any]], bool]:
    if not text or not text.strip():
        return lambda obj: True
    allowed = {"metadata.name", *supported} | ({"metadata.namespace"} if namespaced else set())
    terms = []
    for part in text.split(","):
        match = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request(f'field label not supported: {path}')
        terms.append((path, op == "!=", value))
    return lambda obj: all((field_value(obj, p) == v) != neg for p, neg, v in terms)


def matches_selector_object(selector: Mapping[str, Any] | None,
                            labels: Mapping[str, str]) -> bool:
    """Match a ``metav1.LabelSelector``; an empty selector matches everything."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
