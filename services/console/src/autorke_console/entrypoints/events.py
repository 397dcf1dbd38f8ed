"""``GET /api/v1/events``: server-sent events from the NATS event stream, filtered by
``subject`` (a pattern under ``autorke.events``, e.g. ``orchestrator.change.*``) and
optionally ``correlation_id`` (a change id). Each event's ``data`` is the envelope as JSON
and its ``id`` the envelope id; a comment every few seconds keeps proxies from closing an
idle stream, and a ``dropped`` event tells a slow reader it missed some."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import StreamingResponse

from autorke_common.errors import Problem
from autorke_console.domain.subjects import BadSubject, normalise
from autorke_console.entrypoints.deps import ApiCaller, EventFeedDep

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


@router.get("/api/v1/events", tags=["console"], summary="Live events (text/event-stream)",
            response_class=StreamingResponse)
async def events(request: Request, _: ApiCaller, feed: EventFeedDep,
                 subject: Annotated[str | None, Query(description="subject pattern under autorke.events")] = None,
                 correlation_id: Annotated[str | None, Query(description="only this change's events")] = None,
                 ) -> StreamingResponse:
    try:
        pattern = normalise(subject)
    except BadSubject as exc:
        raise Problem("invalid-subject", "Invalid subject filter", 422, str(exc)) from None

    async def stream() -> AsyncIterator[bytes]:
        async with feed.listen(pattern, correlation_id) as listener:
            yield b"retry: 2000\n" + sse_frame(json.dumps({"subject": pattern}), event="ready")
            reported = 0
            while True:
                try:
                    item = await asyncio.wait_for(listener.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keepalive\n\n"
                    continue
                if listener.dropped != reported:
                    yield sse_frame(json.dumps({"dropped": listener.dropped - reported}), event="dropped")
                    reported = listener.dropped
                yield sse_frame(json.dumps(item.envelope, separators=(",", ":")),
                                str(item.envelope.get("id", "")))

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
