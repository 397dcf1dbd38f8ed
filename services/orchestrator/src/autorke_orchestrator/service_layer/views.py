"""The read side: the change as the public contract shows it (DESIGN.md section 2): id,
type, status, requested_by, the plan (steps, blast radius, config diff), approvals and
history; and the queries the routes call (one change, its history, a page of changes)."""
from __future__ import annotations

from typing import Any

from autorke_common.errors import PROBLEM_BASE, Missing
from autorke_common.rest import Cursor, Page, invalid_cursor, page_of
from autorke_orchestrator.domain.flows.flat_network import TICKET  # its plan and callback are for humans
from autorke_orchestrator.domain.model import Change
from autorke_orchestrator.service_layer.unit_of_work import ChangeHeader, UnitOfWork


def change_view(c: Change, history: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id, "type": c.type, "status": c.status, "requested_by": c.requested_by, "cluster": c.cluster,
        "targets": c.targets, "params": c.params, "policy": c.policy, "open": not c.closed,
        "waiting_for": c.waiting_for, "dropped": c.dropped,
        "problem": ({"type": PROBLEM_BASE + c.problem, "slug": c.problem, "detail": c.problem_detail}
                    if c.problem else None),
        "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
        "plan": {
            "steps": [{"id": s.id, "name": s.name, "kind": s.kind, "status": s.status, "attempt": s.attempt,
                       "job_id": s.job_id, "compensation": s.undo_status, "preview": _preview(s),
                       "targets": {h: {"status": t.status, "attempt": t.attempt, "error": t.error,
                                       "error_class": t.error_class, "compensation": t.undo_status,
                                       **({"result": t.result} if h == TICKET else {})}
                                   for h, t in s.targets.items()}} for s in c.steps],
            "blast_radius": {"hosts": c.blast_hosts, "components": c.blast_components},
            "config_diff": c.config_diff, "warnings": c.warnings,
        },
        "approvals": [{"step": a.step_id, "decision": a.decision, "by": a.by, "comment": a.comment,
                       "at": a.at.isoformat(), "automatic": a.automatic} for a in c.approvals if a],
    }
    if history:
        out["history"] = history_view(c)
    return out


def _preview(step: Any) -> dict[str, Any] | None:
    """A config change's check step: the inventory's redacted diff of what it would adopt."""
    return next((t.result["preview"] for t in step.targets.values() if "preview" in (t.result or {})), None)


def history_view(c: Change) -> list[dict[str, Any]]:
    return [{"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "step": h.step_id,
             "result": h.result, "detail": h.detail} for h in c.history]


def summary_view(c: ChangeHeader) -> dict[str, Any]:
    """A change as a list shows it."""
    return {"id": c.id, "type": c.type, "status": c.status, "cluster": c.cluster, "targets": c.targets,
            "requested_by": c.requested_by, "open": not c.closed, "created_at": c.created_at.isoformat()}


# -- queries ---------------------------------------------------------------------------
def load_change(uow: UnitOfWork, change_id: str) -> Change:
    with uow:
        change = uow.changes.get(change_id)
    if change is None:
        raise Missing("not-found", f"change {change_id!r} does not exist")
    return change


def get_change(uow: UnitOfWork, change_id: str) -> dict[str, Any]:
    return change_view(load_change(uow, change_id))


def get_history(uow: UnitOfWork, change_id: str, limit: int, cursor: str | None) -> Page:
    """A page of the change's audit trail, oldest first (entries are only ever appended, so
    an entry's position is its key)."""
    after = Cursor.decode(cursor, "position")
    if after is not None and (after.id != change_id or not isinstance(after.key, int)):
        raise invalid_cursor("the cursor belongs to another change's history")
    entries = list(enumerate(history_view(load_change(uow, change_id))))
    start = after.key + 1 if after is not None else 0
    return page_of(entries[start:start + limit + 1], limit, key=lambda e: (e[0], change_id), sort="position",
                   view=lambda e: e[1])


def list_changes(uow: UnitOfWork, status: str | None, cluster: str | None, limit: int,
                 cursor: str | None) -> Page:
    """A page of changes, newest first; rows created at the same instant are ordered by id,
    so paging never skips or repeats one (a cursor this API did not give out: 400)."""
    after = Cursor.decode(cursor)
    with uow:
        rows = uow.changes.page(status, cluster, limit, after)
        return page_of(rows, limit, key=lambda r: (r.created_at, r.id), view=summary_view)
