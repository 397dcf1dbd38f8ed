"""What reverting an applied ticket (``netcfg.ticket.revert``, the compensation of a
node.add's network steps) takes back, with no I/O.

Apply records what it wrote and what was there before (``TicketRow.applied``: ``nodes``,
the labels and annotations written on each node; ``before``, per node the old value of
each of those keys, and per Calico object it created or replaced, the object's spec and
labels before, or None when apply created it). A revert undoes exactly that, as apply's
own rollback would, but only where the ticket still owns what it wrote:

* a node is the ticket's while it carries the ticket's label (a later ticket's apply made
  it that ticket's: left alone); each key apply wrote is put back as it was — removed when
  apply added it, its old value when apply changed it (so a ``rack`` label the node had
  before keeps it) — unless someone changed it since;
* a Calico object (BGP peer, BGP configuration) is the ticket's while it carries the
  ticket's label: deleted when apply created it, its old spec and labels put back when
  apply replaced it; a BGP peer labelled with the ticket that the record does not name is
  deleted;
* a pool is the ticket's when it carries the ticket's label (apply labels the pools it
  creates; a pool that was there before is not), and it is deleted only as any pool is
  (``pool_rules.check_delete``: no address of it in use), else kept.

A ticket applied before apply recorded the old values: netcfg's own keys are removed
(:data:`OWNED_LABELS`, :data:`OWNED_ANNOTATIONS`) and ``rack`` is left on the node, since
netcfg cannot tell whether it wrote that label or read the rack from it.
"""
from __future__ import annotations

from typing import Any

from autorke_netcfg.domain.ticket_rules import (
    AS_ANNOTATION,
    FLAT_LABEL,
    RR_ANNOTATION,
    RR_LABEL,
    TICKET_LABEL,
)

OWNED_LABELS = (FLAT_LABEL, TICKET_LABEL, RR_LABEL)
OWNED_ANNOTATIONS = (AS_ANNOTATION, RR_ANNOTATION)
#: a node's metadata patch: per part (labels, annotations), key -> value (None: remove)
Patch = dict[str, dict[str, str | None]]


def owned_by(ticket_id: str, obj: dict[str, Any] | None) -> bool:
    """Whether ``obj`` (a Kubernetes object) carries the ticket's label."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(TICKET_LABEL) == ticket_id


def prior_of(ticket_id: str, obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """What apply records of an object it is about to replace: its spec and labels (None:
    it creates the object, or the object is its own earlier, redelivered attempt's)."""
    if obj is None or owned_by(ticket_id, obj):
        return None
    return {"spec": obj.get("spec") or {}, "labels": (obj.get("metadata") or {}).get("labels") or {}}


def node_patch(ticket_id: str, written: dict[str, dict[str, str]], before: dict[str, dict[str, Any]] | None,
               node: dict[str, Any] | None) -> Patch | None:
    """The patch that takes the ticket's writes back off one node (None: nothing to take:
    the node is gone, is not the ticket's any more, or is as it was). ``written``: the
    labels and annotations apply wrote; ``before``: their old values (None: unrecorded)."""
    if node is None or not owned_by(ticket_id, node):
        return None
    meta = node.get("metadata") or {}
    patch: Patch = {}
    for part, owned in (("labels", OWNED_LABELS), ("annotations", OWNED_ANNOTATIONS)):
        now = meta.get(part) or {}
        old = before[part] if before is not None else dict.fromkeys(owned)
        patch[part] = {key: old[key] for key, value in written.get(part, {}).items()
                       if key in old and now.get(key) == value and old[key] != value}
    return patch if any(patch.values()) else None


def object_undo(ticket_id: str, prior: dict[str, Any] | None,
                current: dict[str, Any] | None) -> str | None:
    """What to do with one Calico object apply wrote: ``delete`` (apply created it),
    ``restore`` (apply replaced ``prior``), or None (gone, or not the ticket's any more)."""
    if current is None or not owned_by(ticket_id, current):
        return None
    return "delete" if prior is None else "restore"
