"""The change as the public contract shows it (DESIGN.md section 2): id, type, status,
requested_by, the plan (steps, blast radius, config diff), approvals and history."""
from __future__ import annotations

from typing import Any

from autorke_common.errors import PROBLEM_BASE

from autorke_orchestrator.domain.model import Change


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
                       "job_id": s.job_id, "compensation": s.undo_status,
                       "targets": {h: {"status": t.status, "attempt": t.attempt, "error": t.error,
                                       "error_class": t.error_class, "compensation": t.undo_status}
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


def history_view(c: Change) -> list[dict[str, Any]]:
    return [{"at": h.at.isoformat(), "actor": h.actor, "action": h.action, "step": h.step_id,
             "result": h.result, "detail": h.detail} for h in c.history]
