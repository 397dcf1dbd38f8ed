"""Live events for browsers and the CLI: one core NATS subscription on
``autorke.events.>`` per console process, fanned out in memory to every listener whose
filter matches.

Why not a JetStream consumer per browser tab: a durable per tab would pile up on the
server, and even ephemeral consumers cost the server state per connection. Events are
published to JetStream subjects, so a plain subscription sees each one as it is stored.
A listener that cannot keep up has its oldest-unread messages dropped (and is told how
many), so one slow tab never holds the feed or the console's memory; and the streams
each caller holds are counted (:meth:`EventFeed.streams_of`), so the route can bound them.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from autorke_console.domain.subjects import EVENTS_ROOT, matches

log = logging.getLogger(__name__)


@dataclass
class FeedItem:
    subject: str
    envelope: dict


@dataclass(eq=False)
class Listener:
    pattern: str
    correlation_id: str | None = None
    #: Who holds the stream (the caller's subject), for the per-caller bound.
    owner: str | None = None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    dropped: int = 0

    def wants(self, item: FeedItem) -> bool:
        if not matches(self.pattern, item.subject):
            return False
        if self.correlation_id is not None:
            env = item.envelope
            return self.correlation_id in (env.get("correlation_id"), env.get("subject"),
                                           (env.get("data") or {}).get("change_id"))
        return True

    def offer(self, item: FeedItem) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.queue.get_nowait()
            self.dropped += 1
            self.queue.put_nowait(item)


class EventFeed:
    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._sub = None
        self.received = 0

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def streams_of(self, owner: str) -> int:
        return sum(1 for listener in self._listeners if listener.owner == owner)

    async def start(self, nc) -> None:
        self._sub = await nc.subscribe(f"{EVENTS_ROOT}.>", cb=self._on_message)

    async def stop(self) -> None:
        if self._sub is not None:
            with suppress(Exception):  # the connection may already be closed
                await self._sub.unsubscribe()
            self._sub = None

    async def _on_message(self, msg) -> None:
        self.received += 1
        if not self._listeners:
            return
        try:
            envelope = json.loads(msg.data)
        except ValueError:
            log.warning("undecodable event on %s", msg.subject)
            return
        item = FeedItem(msg.subject, envelope)
        for listener in list(self._listeners):
            if listener.wants(item):
                listener.offer(item)

    @asynccontextmanager
    async def listen(self, pattern: str, correlation_id: str | None = None,
                     owner: str | None = None) -> AsyncIterator[Listener]:
        listener = Listener(pattern, correlation_id, owner)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
