"""Versions of a cluster's node documents (issue 18): its node profiles (``default`` is
the cluster's default) and its CMDB label mapping (one, ``default``). A write stores the
next version of the spec as its model normalised it, and announces it
(``inventory.node_profile.versioned``, the whole spec: the orchestrator keeps the latest
of each from the events) in the same unit of work; a write identical to the latest stores
nothing. Version 0 is the built-in default, never stored. Runs in the caller's unit of work."""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Conflict, Missing
from autorke_inventory.adapters.orm import ClusterRow, DocumentVersionRow
from autorke_inventory.domain import profiles
from autorke_inventory.service_layer.unit_of_work import UnitOfWork


def view(row: DocumentVersionRow, spec: bool = True) -> dict[str, Any]:
    out = {"cluster": row.cluster, "kind": row.kind, "name": row.name, "version": row.version,
           "created_by": row.created_by, "created_at": row.created_at.isoformat(),
           "comment": row.comment, "builtin": False}
    return {**out, "spec": row.spec} if spec else out


def builtin_view(cluster: str, kind: str, name: str, spec: bool = True) -> dict[str, Any] | None:
    """Version 0 of ``name`` (None: only ``default`` has one)."""
    document = profiles.builtin(kind, name)
    if document is None:
        return None
    out = {"cluster": cluster, "kind": kind, "name": name, "version": 0, "created_by": None,
           "created_at": None, "comment": None, "builtin": True}
    return {**out, "spec": document} if spec else out


def version(uow: UnitOfWork, cluster: str, kind: str, name: str, number: int | None = None) -> dict[str, Any]:
    """One version's view with its spec (None: the latest, the built-in one when nothing
    is stored); ``not-found`` when there is no such version."""
    if number == 0 or (number is None and uow.documents.latest(cluster, kind, name) is None):
        found = builtin_view(cluster, kind, name)
    else:
        row = (uow.documents.latest(cluster, kind, name) if number is None
               else uow.documents.get(cluster, kind, name, number))
        found = view(row) if row is not None else None
    if found is None:
        which = f"version {number} of " if number is not None else ""
        raise Missing("not-found", f"{which}{kind} {name!r} of cluster {cluster!r} does not exist")
    return found


def store(uow: UnitOfWork, cluster: ClusterRow, kind: str, name: str, spec: Any, *, actor: str,
          comment: str | None = None, expected_version: int | None = None) -> tuple[dict[str, Any], bool]:
    """(the view of the version that is now the latest, whether this write stored it).
    ``expected_version``: the latest version the caller read (0: none stored yet);
    another is ``version-conflict``, and so is a writer that stored the same number first."""
    profiles.checked_name(kind, name)
    normalised = profiles.checked_spec(kind, spec, cluster.provider)
    latest = uow.documents.latest(cluster.name, kind, name)
    current = latest.version if latest else 0
    if expected_version is not None and expected_version != current:
        raise Conflict("version-conflict", f"{kind} {name!r} is at version {current}, not {expected_version}",
                       current_version=current)
    if latest is not None and latest.spec == normalised:
        return view(latest), False
    row = DocumentVersionRow(cluster=cluster.name, kind=kind, name=name, version=current + 1,
                             spec=normalised, created_by=actor, comment=comment, created_at=utcnow())
    if not uow.documents.add_once(row):
        raise Conflict("version-conflict", f"{kind} {name!r} version {row.version} was stored by another "
                                           "writer meanwhile: read it and try again", current_version=row.version)
    uow.emit(Envelope.of(msg.NodeProfileVersioned(
        cluster=cluster.name, kind=kind, name=name, version=row.version, spec=normalised,
        created_by=actor, comment=comment), source="inventory", actor=actor),
        aggregate=f"{cluster.name}/{kind}/{name}")
    return view(row), True
