"""The console's event log (issue 19): what of each platform event it keeps to show again
(the Events page's history, the audit view), and the filters it is read back by.

Kept: every event but the live output batches (``executor.target.output``: the executor
keeps each host's output with its result, and the change page shows it), without the
values no page needs and a table copy must not hold — sealed secrets and a dead letter's
raw payload (``event_view.visible_event`` as an operator sees the event). Read back, each
event is shown to the caller as the live stream would (a viewer gets no script output)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from autorke_console.domain.event_view import SCRIPT_OUTPUT_ROLE, TARGET_OUTPUT, visible_event
from autorke_console.domain.subjects import EVENTS_ROOT

EVENTS_ALL = f"{EVENTS_ROOT}.>"


@dataclass(frozen=True)
class EventQuery:
    subject: str = EVENTS_ALL      # a NATS pattern under autorke.events (normalised)
    correlation_id: str | None = None
    actor: str | None = None
    cluster: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def kept(envelope: dict[str, Any]) -> dict[str, Any] | None:
    """The envelope as the log keeps it, or None when it keeps none of it."""
    if envelope.get("type") == TARGET_OUTPUT or not envelope.get("id"):
        return None
    return visible_event(envelope, lambda role: role == SCRIPT_OUTPUT_ROLE)


def cluster_of(envelope: dict[str, Any]) -> str | None:
    data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    value = data.get("cluster")
    return str(value)[:63] if isinstance(value, str) and value else None


def subject_like(pattern: str) -> str:
    """A LIKE pattern that every subject ``pattern`` matches also matches (wider: ``*``
    becomes any text); the caller checks each row with ``subjects.matches``."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace(">", "%")


def summary(envelope: dict[str, Any]) -> str:
    """One line a person reads for an event: the change, step, host or ticket it is about,
    and what happened, from the fields most events carry."""
    d = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    parts = []
    for key in ("change_id", "cluster", "step_id", "machine", "hostname", "host", "ticket_id", "pool", "job_id"):
        if d.get(key) and not (key == "machine" and d.get("hostname")):
            parts.append(f"{key.replace('_id', '')} {d[key]}")
    moved = [str(d[k]) for k in ("from_status", "to_status") if d.get(k)] or \
        [str(d[k]) for k in ("from_state", "to_state") if d.get(k)]
    if moved:
        parts.append(" → ".join(moved))
    for key in ("status", "result", "decision", "reason", "error"):
        if d.get(key) and isinstance(d[key], (str, int, float)):
            parts.append(f"{key}: {d[key]}")
    return " · ".join(parts)[:300]
