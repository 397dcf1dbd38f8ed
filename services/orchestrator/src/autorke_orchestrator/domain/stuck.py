"""An admin's way out of a stuck change (H3): close it now, whatever it waits for.

Nothing more is sent, waited for or compensated, and ``_commit`` releases its locks like
for any closed change. What a running step was doing on a host is not known, so those
targets are left ``unknown`` and the history names them with the admin's reason, for the
admin to check on the machines; a late answer of a job of the change is stale.
"""
from __future__ import annotations

from autorke_orchestrator.domain.model import Change, IllegalTransition
from autorke_orchestrator.domain.orders import Order


def force_cancel(change: Change, actor: str, reason: str) -> list[Order]:
    """An admin closes a stuck change at once (H3): nothing more is sent, waited for or
    compensated, and its locks are released. What a running step was doing on a host is
    not known, so those targets are left ``unknown`` and the history says which, for the
    admin to check on the machines."""
    if change.closed:
        raise IllegalTransition(f"change {change.id} is {change.status}: it is closed already")
    unknown: dict[str, list[str]] = {}
    for s in change.steps:
        busy = [h for h, t in s.targets.items() if "running" in (t.status, t.undo_status)]
        for h in busy:
            t = s.targets[h]
            t.status, t.undo_status = "unknown", ("unknown" if t.undo_status == "running" else t.undo_status)
        if s.status in ("running", "compensating", "pending", "awaiting_approval") or s.undo_status == "running":
            s.status = "cancelled"
            s.undo_status = "unknown" if s.undo_status == "running" else s.undo_status
        if busy:
            unknown[s.id] = busy
    change.cancel_requested = False
    change.record(actor, "force-cancel", "closed", reason=reason, unknown=unknown)
    detail = f"force-cancelled by {actor}: {reason}"
    if unknown:
        detail += "; check " + "; ".join(f"{step} on {', '.join(hosts)}" for step, hosts in unknown.items())
    change.close("cancelled", "force-cancelled", actor, problem="force-cancelled", detail=detail[:2000])
    return []
