"""Kubernetes label and taint syntax, checked the way the API server checks it, for every
service that hands labels on: the orchestrator's change params, the inventory's node
profiles and label mappings. Every pattern is applied with ``re.fullmatch`` (``re.match``
with ``$`` would let a trailing newline through). The validators raise pydantic's custom
error, so a model that uses them names the offending field."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
#: Label prefixes Kubernetes keeps for itself, and the platform's own (netcfg marks
#: flattened nodes with ``network.autorke.io/...``: an operator's label must not fake that).
RESERVED_DOMAINS = ("kubernetes.io", "k8s.io", "autorke.io")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def refuse(message: str) -> PydanticCustomError:
    # formatted here, with no template context: a value's own "{...}" stays as it is
    return PydanticCustomError("invalid_param", message)


def label_key_syntax(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise refuse(f"key prefix {prefix!r} is not a DNS subdomain (lowercase, at most 253 "
                     "characters)")
    if not (len(name) <= 63 and _NAME.fullmatch(name)):
        raise refuse(f"key name {name!r} is not a Kubernetes name (at most 63 letters, digits, "
                     "'-', '_', '.', beginning and ending with a letter or digit)")
    return key


def reserved(key: str) -> bool:
    prefix = key.rpartition("/")[0]
    return any(prefix == d or prefix.endswith("." + d) for d in RESERVED_DOMAINS)


def label_key(key: str) -> str:
    """A key an operator may set: valid, and not under a reserved prefix."""
    label_key_syntax(key)
    if reserved(key):
        raise refuse(f"key prefix {key.rpartition('/')[0]!r} is reserved (kubernetes.io, k8s.io, "
                     "autorke.io and their subdomains)")
    return key


def is_label_key(key: object) -> bool:
    """Whether ``key`` is a label key by syntax (reserved prefixes allowed): for checks that
    refuse a whole message rather than name a field."""
    try:
        return isinstance(key, str) and bool(label_key_syntax(key))
    except PydanticCustomError:
        return False


def is_label_value(value: object) -> bool:
    try:
        return isinstance(value, str) and label_value(value) == value
    except PydanticCustomError:
        return False


def label_value(value: str) -> str:
    if value and not (len(value) <= 63 and _NAME.fullmatch(value)):
        raise refuse(f"value {value!r} is not a Kubernetes label value (empty, or at most 63 "
                     "letters, digits, '-', '_', '.', beginning and ending with a letter or "
                     "digit)")
    return value


def as_label_value(raw: object) -> str:
    """A CMDB value (``NVIDIA A100-SXM4-80GB``) as a label value, the way NVIDIA's feature
    discovery writes it: every character a label value may not hold becomes ``-``, cut to
    63 and trimmed to begin and end with a letter or digit (empty when nothing is left)."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "-", str(raw))[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", text)


LabelKey = Annotated[str, AfterValidator(label_key)]
#: a key the platform itself may write (a mapping's ``topology.kubernetes.io/zone``)
AnyLabelKey = Annotated[str, AfterValidator(label_key_syntax)]
TaintKey = Annotated[str, AfterValidator(label_key_syntax)]
LabelValue = Annotated[str, AfterValidator(label_value)]
Labels = dict[LabelKey, LabelValue]


class Taint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: TaintKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"
