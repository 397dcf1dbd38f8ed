"""``GET /api/v1/events``: server-sent events from the NATS event stream, filtered by
``subject`` (a pattern under ``autorke.events``, e.g. ``orchestrator.change.*``) and
optionally ``correlation_id`` (a change id). Each event's ``data`` is the envelope as JSON
(without what the caller's roles may not read: ``domain.event_view``) and its ``id`` the
envelope id; a comment every few seconds keeps proxies from closing an idle stream, and a
``dropped`` event tells a slow reader it missed some.

The caller needs the ``viewer`` role, and may hold a bounded number of streams at once
(``AUTORKE_EVENTS_STREAMS_PER_SUBJECT``; 429 beyond). A stream lasts as long as the
caller's sign-in: it ends with an ``expired`` event when the bearer token's ``exp`` (or
the session's end) passes, and with ``signed-out`` when the session it was opened with
is ended, checked at least every keepalive; the browser then signs in again."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from autorke_common.envelope import aware
from autorke_common.errors import Problem
from autorke_common.rest import CursorParam, Limit
from autorke_console.domain.event_log import EventQuery
from autorke_console.domain.event_view import visible_event
from autorke_console.domain.subjects import BadSubject, normalise
from autorke_console.entrypoints.deps import ApiCaller, EventFeedDep
from autorke_console.entrypoints.session import still_signed_in
from autorke_console.service_layer import event_log
from autorke_console.service_layer.identity import Caller

router = APIRouter()
KEEPALIVE_S = 10.0


def sse_frame(data: str, event_id: str | None = None, event: str | None = None) -> bytes:
    lines = []
    if event_id:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {part}" for part in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def _allowed(caller: Caller, request: Request, feed) -> None:
    if not caller.principal.has("viewer"):
        raise Problem("forbidden", "Not allowed", 403, f"{caller.principal.subject} lacks the 'viewer' role")
    if caller.expires_at is not None and caller.expires_at <= time.time():
        raise Problem("unauthenticated", "Authentication required", 401, "the token has expired")
    limit = request.app.state.settings.events_streams_per_subject
    if feed.streams_of(caller.principal.subject) >= limit:
        raise Problem("too-many-streams", "Too many event streams", 429,
                      f"{caller.principal.subject} holds {limit} event streams already; close one first")


@router.get("/api/v1/events", tags=["console"], summary="Live events (text/event-stream)",
            response_class=StreamingResponse)
async def events(request: Request, caller: ApiCaller, feed: EventFeedDep,
                 subject: Annotated[str | None, Query(description="subject pattern under autorke.events")] = None,
                 correlation_id: Annotated[str | None, Query(description="only this change's events")] = None,
                 ) -> StreamingResponse:
    try:
        pattern = normalise(subject)
    except BadSubject as exc:
        raise Problem("invalid-subject", "Invalid subject filter", 422, str(exc)) from None
    _allowed(caller, request, feed)
    may = caller.principal.has

    def ended() -> bytes | None:
        """The closing frame when the caller's sign-in is over, else ``None``."""
        if caller.expires_at is not None and time.time() >= caller.expires_at:
            return sse_frame(json.dumps({"reason": "the token has expired"}), event="expired")
        return None

    async def signed_out() -> bytes | None:
        if caller.session_id and not await asyncio.to_thread(still_signed_in, request, caller.session_id):
            return sse_frame(json.dumps({"reason": "the session has ended"}), event="signed-out")
        return None

    async def stream() -> AsyncIterator[bytes]:
        async with feed.listen(pattern, correlation_id, owner=caller.principal.subject) as listener:
            yield b"retry: 2000\n" + sse_frame(json.dumps({"subject": pattern}), event="ready")
            reported = 0
            checked = time.monotonic()
            while True:
                if (closing := ended()) is not None:
                    yield closing
                    return
                if time.monotonic() - checked >= KEEPALIVE_S:
                    checked = time.monotonic()
                    if (closing := await signed_out()) is not None:
                        yield closing
                        return
                wait = KEEPALIVE_S
                if caller.expires_at is not None:
                    wait = min(wait, max(caller.expires_at - time.time(), 0.0))
                try:
                    item = await asyncio.wait_for(listener.queue.get(), wait)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    if ended() is None:
                        yield b": keepalive\n\n"
                    continue
                if listener.dropped != reported:
                    yield sse_frame(json.dumps({"dropped": listener.dropped - reported}), event="dropped")
                    reported = listener.dropped
                envelope = visible_event(item.envelope, may)
                yield sse_frame(json.dumps(envelope, separators=(",", ":")), str(envelope.get("id", "")))

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/api/v1/events/history", tags=["console"], summary="Past events, newest first")
def event_history(request: Request, caller: ApiCaller,
                  subject: Annotated[str | None, Query(description="subject pattern under autorke.events")] = None,
                  correlation_id: Annotated[str | None, Query(max_length=128, description="a change's id")] = None,
                  actor: Annotated[str | None, Query(max_length=255)] = None,
                  cluster: Annotated[str | None, Query(max_length=63)] = None,
                  type: Annotated[str | None, Query(max_length=128, description="an event type")] = None,
                  since: datetime | None = None, until: datetime | None = None,
                  limit: Limit = 50, cursor: CursorParam = None) -> dict:
    """The events the console kept (``AUTORKE_EVENT_LOG_RETENTION_DAYS``), newest first,
    each as the live stream would show it to the caller, with a one-line ``summary``."""
    if not caller.principal.has("viewer"):
        raise Problem("forbidden", "Not allowed", 403, f"{caller.principal.subject} lacks the 'viewer' role")
    query = EventQuery(_subject(subject), correlation_id or None, actor or None, cluster or None, type or None,
                       since and aware(since), until and aware(until))
    page = event_log.history(request.app.state.runtime.uow(), query, limit, cursor, caller.principal.has)
    return {"items": page.items, "next_cursor": page.next_cursor}


def _subject(subject: str | None) -> str:
    try:
        return normalise(subject)
    except BadSubject as exc:
        raise Problem("invalid-subject", "Invalid subject filter", 422, str(exc), field="subject") from None
