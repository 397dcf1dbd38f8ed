"""One colour family per kind of status, so every page paints the same state the same
way: green done, blue running, amber waiting for a person, red failed, grey idle."""
from __future__ import annotations

_TONE = {
    "ok": {"succeeded", "ready", "member", "available", "true", "enabled", "applied", "confirmed",
           "done", "active", "healthy"},
    "run": {"running", "initializing", "joining", "draining", "removing", "cleaning",
            "compensating", "submitted", "in_progress", "started", "pending", "planned"},
    "wait": {"awaiting_approval", "awaiting_check", "awaiting_confirmation", "callback_received",
             "waiting", "paused", "locked", "partially_failed", "unknown", "degraded"},
    "bad": {"failed", "faulty", "rejected", "false", "notready", "error", "refused", "timeout",
            "unreachable"},
    "idle": {"cancelled", "retired", "skipped", "disabled", "empty"},
}
_BY_STATUS = {s: tone for tone, names in _TONE.items() for s in names}


def tone(status: object) -> str:
    """``ok`` | ``run`` | ``wait`` | ``bad`` | ``idle`` for a status string."""
    if status is None:
        return "idle"
    return _BY_STATUS.get(str(status).lower().replace(" ", "_").replace("-", "_"), "idle")


TERMINAL_CHANGE = frozenset({"succeeded", "partially_failed", "failed", "cancelled"})
