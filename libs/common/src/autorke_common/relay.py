"""The outbox relay: publishes what units of work wrote to the outbox, in the order it was
written, at least once.

It wakes when a unit of work commits events (or every ``poll_interval``), publishes
unpublished rows oldest first and marks them. When NATS is down it stops at the first row
that fails and tries again later from that row, so order is kept and nothing is skipped.
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
import zlib

from sqlalchemy import select, text, update

from autorke_common.bus import Bus
from autorke_common.db import is_sqlite
from autorke_common.envelope import utcnow
from autorke_common.outbox import Database

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, db: Database, bus: Bus, lock_name: str, poll_interval: float = 0.5,
                 batch: int = 500) -> None:
        self.db = db
        self.bus = bus
        self.poll_interval = poll_interval
        self.batch = batch
        self.lock_key = zlib.crc32(lock_name.encode())
        self.published = 0
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
        """Publish one batch of unpublished rows; returns how many were published."""
        rows = await asyncio.to_thread(self._unpublished)
        done: list[int] = []
        try:
            for seq, msg_id, subject, payload, headers in rows:
                await self.bus.publish_raw(subject, payload.encode(), msg_id, json.loads(headers))
                done.append(seq)
        finally:
            if done:
                await asyncio.to_thread(self._mark, done)
                self.published += len(done)
        return len(done)

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
