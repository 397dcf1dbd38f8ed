"""The console's event log: each platform event kept once (every console replica reads the
one durable consumer, and a redelivery is a duplicate), read back newest first with
filters, and purged after the retention the console is told."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from autorke_common.envelope import aware, utcnow
from autorke_common.rest import Cursor, Page, invalid_cursor, page_of
from autorke_console.adapters.orm import EventRow
from autorke_console.domain.event_log import EventQuery, cluster_of, kept, summary
from autorke_console.domain.event_view import visible_event
from autorke_console.domain.subjects import matches

log = logging.getLogger(__name__)
SORT = "newest"
#: rows read per round while a subject pattern with wildcards inside is checked row by row
_BATCH = 200
_ROUNDS = 25


def record(envelope: dict[str, Any], uow) -> bool:
    """Keep ``envelope`` (as :func:`..domain.event_log.kept` says); True when it is new."""
    stored = kept(envelope)
    if stored is None:
        return False
    row = EventRow(id=str(stored["id"])[:64], subject=str(stored.get("subject") or "")[:255],
                   type=str(stored.get("type") or "")[:128], source=str(stored.get("source") or "")[:64],
                   time=_time(stored.get("time")), correlation_id=_short(stored.get("correlation_id"), 128),
                   actor=_short(stored.get("actor"), 255), cluster=cluster_of(stored), envelope=stored)
    with uow:
        added = uow.events.add_once(row)
        uow.commit()
    return added


def _short(value: Any, n: int) -> str | None:
    return str(value)[:n] if value else None


def _time(value: Any) -> datetime:
    try:
        return aware(datetime.fromisoformat(str(value)))
    except ValueError:
        return utcnow()


def history(uow, f: EventQuery, limit: int, cursor: str | None, may: Callable[[str], bool]) -> Page:
    """A page of kept events matching ``f``, newest first, each as the caller may see it
    and with a one-line ``summary``."""
    after = Cursor.decode(cursor, SORT)
    if after is not None and not isinstance(after.key, datetime):
        raise invalid_cursor("the cursor was not issued by this API")
    size = _BATCH if "*" in f.subject else limit  # a '*' is wider in SQL: its rows are checked here
    found: list[EventRow] = []
    with uow:
        for _ in range(_ROUNDS):
            rows = uow.events.page(f, after, size)
            batch, more = rows[:size], len(rows) > size
            found += [r for r in batch if matches(f.subject, r.subject)]
            if len(found) > limit or not more:
                break
            after = Cursor(SORT, batch[-1].time, batch[-1].id)
        else:
            log.info("event history: %s matched %d of the %d newest rows read", f.subject, len(found),
                     size * _ROUNDS)
        return page_of(found, limit, key=lambda r: (r.time, r.id), sort=SORT, view=lambda r: _view(r, may))


def _view(row, may: Callable[[str], bool]) -> dict[str, Any]:
    envelope = visible_event(row.envelope, may)
    return {**envelope, "summary": summary(envelope)}


def purge(uow, keep_days: float) -> int:
    with uow:
        removed = uow.events.remove_before(utcnow() - timedelta(days=keep_days))
        uow.commit()
    return removed
