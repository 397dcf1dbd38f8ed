"""What the inventory's REST API asks of it, as commands for its handlers (the commands
that come over the bus, from the orchestrator, are the wire contract in
``autorke_common.catalogue.inventory``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RegisterCluster:
    data: dict[str, Any]  # the registration's fields (name, provider, networks, secrets, ...)
    actor: str


@dataclass(frozen=True)
class UpdateCluster:
    name: str
    patch: dict[str, Any]  # only the fields the caller sent
    if_match: str | None  # the ETag the caller read (lost-update guard)
    actor: str


@dataclass(frozen=True)
class ChangeOptions:
    """New options: checked, kept as a proposal, and a ``config.update`` change asked for
    as the caller (``authorization``: the caller's own Authorization header)."""

    name: str
    options: dict[str, Any]
    if_match: str | None
    actor: str
    authorization: str | None = None


@dataclass(frozen=True)
class ImportCluster:
    name: str
    source: str  # "files" (a config.import change) or "kubernetes" (through the executor)
    actor: str
    cluster_yml: str | None = None
    rkestate: str | None = None
    authorization: str | None = None


@dataclass(frozen=True)
class RefreshNodes:
    cluster: str
    actor: str


@dataclass(frozen=True)
class GatherFacts:
    machines: list[str] = field(default_factory=list)  # ids or hostnames
    actor: str = "inventory"


@dataclass(frozen=True)
class RollbackConfig:
    """A ``config.rollback`` change asked for as the caller."""

    cluster: str
    kind: str
    to: int
    actor: str
    comment: str | None = None
    authorization: str | None = None


@dataclass(frozen=True)
class StoreDocument:
    """A new version of one of a cluster's node documents (``kind`` ``node-profile`` or
    ``label-mapping``); ``expected_version``: the latest the caller read (0: none stored)."""

    cluster: str
    kind: str
    name: str
    spec: Any
    actor: str
    comment: str | None = None
    expected_version: int | None = None
