"""The orchestrator's gauges on ``/metrics``, read from its tables at each scrape: changes
by status, how long the oldest open change has been open (a stuck change), and how many
of its commands came back dead-lettered."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from autorke_common.envelope import aware, utcnow
from autorke_common.runtime import ServiceRuntime
from autorke_orchestrator.adapters.orm import ChangeRow


def changes_by_status(conn: Connection) -> dict[tuple[str, ...], float]:
    rows = conn.execute(select(ChangeRow.status, func.count()).group_by(ChangeRow.status))
    return {(status,): float(n) for status, n in rows}


def oldest_open_age(conn: Connection) -> dict[tuple[str, ...], float]:
    oldest = conn.execute(select(func.min(ChangeRow.updated_at)).where(ChangeRow.closed.is_(False))).scalar()
    if oldest is None:
        return {(): 0.0}
    return {(): max(0.0, (utcnow() - aware(oldest)).total_seconds())}


def register(runtime: ServiceRuntime, dead_letters_consumer: str) -> None:
    marks = runtime.db.tables.processed
    runtime.gauge("autorke_changes", "Changes by status", changes_by_status, labels=("status",))
    runtime.gauge("autorke_change_oldest_open_age_seconds",
                  "Seconds since the open change that moved least recently last moved", oldest_open_age)
    runtime.gauge("autorke_dead_letters_seen", "Dead letters of the orchestrator's commands received (kept as "
                  "long as processed marks)", lambda conn: {(): float(conn.execute(
                      select(func.count()).select_from(marks).where(marks.c.consumer == dead_letters_consumer)).scalar()
                      or 0)})
