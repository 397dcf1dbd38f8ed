"""The outbox relay: publishes what units of work wrote to the outbox, in the order it was
written, at least once.

It wakes when a unit of work commits events (or every ``poll_interval``), publishes
unpublished rows oldest first and marks them. Publishes are pipelined (a window of acks
awaited together, the messages sent in row order on one connection). When NATS is down it
stops at the first row that fails and tries again later from that row, so nothing is
skipped; the only reordering possible is of that row behind later rows of its window that
were already stored (their second publish is dropped by ``Nats-Msg-Id``), and consumers
handle each message once by id whatever its place.

A row that can never be published (H7: larger than the server's ``max_payload``, such as
a sealed rkestate of a large cluster; a subject this service's user may not publish to; a
subject NATS refuses) no longer stops every row after it: it is *parked* (``parked_at``,
``park_reason``; kept for an operator, never purged), an ``autorke.events.bus.outbox.parked``
event says which and why (without the payload), the error is logged and the relay goes on.

Published rows are purged after ``published_retention_s`` (far beyond the duplicate
window, so a crash between publish and mark is still caught by ``Nats-Msg-Id``), and
processed-message marks after ``processed_retention_s``: longer than the events stream
keeps a message (``events_max_age_days``), so a consumer that replays the stream from its
start still drops what it handled.
A crash between publish and mark republishes the row: JetStream drops it by its
``Nats-Msg-Id`` inside the duplicate window, and consumers drop it by id after that.

On PostgreSQL only one relay per service schema runs at a time (an advisory lock), so
replicas never interleave one aggregate's events.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from datetime import timedelta

from nats.errors import BadSubjectError, MaxPayloadError
from sqlalchemy import delete, select, text, update

from autorke_common.bus import Bus
from autorke_common.catalogue.bus import OutboxRowParked
from autorke_common.db import is_sqlite
from autorke_common.envelope import Envelope, utcnow
from autorke_common.outbox import Database

log = logging.getLogger(__name__)

#: what a row's publish raises when that row can never be published (parked, not retried)
UNPUBLISHABLE = (MaxPayloadError, BadSubjectError, PermissionError)
#: how often the leader purges old published rows and processed marks
PURGE_EVERY_S = 3600.0
#: publishes in flight at once (their acks awaited together)
WINDOW = 64


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, lock_name: str, poll_interval: float = 0.5,
                 batch: int = 500, published_retention_s: float = 86400.0,
                 processed_retention_s: float = 15 * 86400.0, claim_retention_s: float | None = None) -> None:
        self.db = db
        self.bus = bus
        self.poll_interval = poll_interval
        self.batch = batch
        self.lock_key = zlib.crc32(lock_name.encode())
        self.published_retention_s = published_retention_s
        self.processed_retention_s = processed_retention_s
        self.claim_retention_s = claim_retention_s  # None: claims are kept (the inventory's configs)
        self.published = 0
        self.parked = 0
        self._purged_at: float | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._leader_conn = None
        self._closing = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.db.on_outbox_written(self._wake_threadsafe)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def _wake_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        self._closing = True
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._leader_conn is not None:
            await asyncio.to_thread(self._leader_conn.close)
            self._leader_conn = None

    async def _run(self) -> None:
        while True:
            # Cleared before the flush, so a commit that lands during it wakes the next
            # round at once instead of waiting out the poll interval.
            self._wake.clear()
            try:
                if await asyncio.to_thread(self._is_leader):
                    while await self.flush() == self.batch:
                        pass
                    if self._purged_at is None or time.monotonic() - self._purged_at > PURGE_EVERY_S:
                        await asyncio.to_thread(self.purge)
                        self._purged_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep relaying whatever fails once
                log.warning("outbox relay: %s", exc)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except TimeoutError:
                pass

    def _is_leader(self) -> bool:
        if is_sqlite(str(self.db.engine.url)):
            return True
        if self._leader_conn is None:
            if self._closing:
                return False
            conn = self.db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.lock_key}).scalar()
            conn.commit()
            if not got:
                conn.close()
                return False
            self._leader_conn = conn
        return True

    async def flush(self) -> int:
        """Publish one batch of unpublished rows; returns how many were handled (published,
        or parked because they never can be). Rows go out in windows of :data:`WINDOW`
        publishes in flight at once, sent in row order on one connection (so the stream
        holds them in that order); the acks are awaited together."""
        rows = await asyncio.to_thread(self._unpublished)
        done: list[int] = []
        handled = 0
        try:
            for start in range(0, len(rows), WINDOW):
                window = rows[start:start + WINDOW]
                answers = await asyncio.gather(
                    *(self.bus.publish_raw(subject, payload.encode(), msg_id, json.loads(headers))
                      for _, msg_id, subject, payload, headers in window), return_exceptions=True)
                for (seq, msg_id, subject, payload, _), answer in zip(window, answers, strict=True):
                    if isinstance(answer, UNPUBLISHABLE):
                        if done:  # keep the order of what was published before it
                            await asyncio.to_thread(self._mark, done)
                            self.published += len(done)
                            done = []
                        await self._park(seq, msg_id, subject, len(payload.encode()), answer)
                    elif isinstance(answer, BaseException):
                        # NATS down or slow: stop here, and start again from this row later.
                        # Rows after it in the window that did go out are published again then
                        # and dropped as duplicates (Nats-Msg-Id), so they stay before it.
                        raise answer
                    else:
                        done.append(seq)
                    handled += 1
        finally:
            if done:
                await asyncio.to_thread(self._mark, done)
                self.published += len(done)
        return handled

    async def _park(self, seq: int, msg_id: str, subject: str, size: int, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}"[:2000] if str(exc) else type(exc).__name__
        await asyncio.to_thread(self._mark_parked, seq, reason)
        self.parked += 1
        log.error("outbox relay: row %s (%s, %s, %d bytes) can never be published and is parked: %s",
                  seq, msg_id, subject, size, reason)
        alert = Envelope.of(OutboxRowParked(service=self.bus.client_name, seq=seq, message_id=msg_id,
                                            subject=subject, size=size, error=reason),
                            source=self.bus.client_name, id=f"parked-{self.bus.client_name}-{seq}")
        try:
            await self.bus.publish(alert)
        except Exception as alert_error:  # noqa: BLE001 - the row stays parked and logged either way
            log.error("outbox relay: the alert for parked row %s was not published: %s", seq, alert_error)

    def _mark_parked(self, seq: int, reason: str) -> None:
        t = self.db.tables.outbox
        now = utcnow()
        with self.db.engine.begin() as conn:
            conn.execute(update(t).where(t.c.seq == seq).values(published_at=now, parked_at=now,
                                                                 park_reason=reason))

    def purge(self) -> tuple[int, int]:
        """Delete published (not parked) outbox rows, processed marks and claims (when they
        expire) past their retention; how many rows and marks."""
        t, marks, claims = self.db.tables.outbox, self.db.tables.processed, self.db.tables.claims
        now = utcnow()
        with self.db.engine.begin() as conn:
            rows = conn.execute(delete(t).where(
                t.c.published_at < now - timedelta(seconds=self.published_retention_s),
                t.c.parked_at.is_(None))).rowcount
            seen = conn.execute(delete(marks).where(
                marks.c.processed_at < now - timedelta(seconds=self.processed_retention_s))).rowcount
            kept = 0 if self.claim_retention_s is None else conn.execute(delete(claims).where(
                claims.c.created_at < now - timedelta(seconds=self.claim_retention_s))).rowcount
        if rows or seen or kept:
            log.info("outbox relay: purged %d published rows, %d processed marks and %d claims", rows, seen, kept)
        return rows, seen

    def _unpublished(self) -> list[tuple]:
        t = self.db.tables.outbox
        with self.db.engine.connect() as conn:
            return list(conn.execute(
                select(t.c.seq, t.c.id, t.c.subject, t.c.payload, t.c.headers)
                .where(t.c.published_at.is_(None)).order_by(t.c.seq).limit(self.batch)
            ))

    def _mark(self, seqs: list[int]) -> None:
        t = self.db.tables.outbox
        with self.db.engine.begin() as conn:
            conn.execute(update(t).where(t.c.seq.in_(seqs)).values(published_at=utcnow()))
