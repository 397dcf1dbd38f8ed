"""Watch streams: newline-delimited JSON events, as ``?watch=true`` answers on a real server.

A watch replays what the store hands it (current state as ADDED, or the history after a
``resourceVersion``), then forwards live events until ``timeoutSeconds`` or the client
leaves. Selectors apply to both sides of a change, as in the real watch cache: an object
that stops matching is sent as DELETED, one that starts matching as ADDED. A version
older than the history answers one ERROR event with a 410 Expired Status.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from .resources import Resource
from .status import KubeError
from .store import Event, ObjectStore

Match = Callable[[Mapping[str, Any]], bool]
DEFAULT_TIMEOUT_SECONDS = 1800.0


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n").encode()


def _translate(event: Event, match: Match) -> bytes | None:
    now = match(event.object)
    if event.type == "MODIFIED":
        before = event.previous is not None and match(event.previous)
        if now and before:
            return _line("MODIFIED", event.object)
        if now:
            return _line("ADDED", event.object)
        if before:
            return _line("DELETED", event.object)
        return None
    return _line(event.type, event.object) if now else None


async def stream(store: ObjectStore, resource: Resource, namespace: str | None,
                 resource_version: str | None, timeout_seconds: float | None,
                 match: Match) -> AsyncIterator[bytes]:
    try:
        since = int(resource_version) if resource_version else None
    except ValueError:
        since = None
    try:
        backlog, watcher = store.watch(resource, namespace, since)
    except KubeError as expired:
        yield _line("ERROR", expired.body())
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (timeout_seconds or DEFAULT_TIMEOUT_SECONDS)
    try:
        chunk = [line for e in backlog if (line := _translate(e, match)) is not None]
        if chunk:
            yield b"".join(chunk)
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                event = await asyncio.wait_for(watcher.queue.get(), remaining)
            except TimeoutError:
                return
            lines = [_translate(event, match)]
            while not watcher.queue.empty():          # drain a burst into one write
                lines.append(_translate(watcher.queue.get_nowait(), match))
            data = b"".join(line for line in lines if line is not None)
            if data:
                yield data
    finally:
        store.unwatch(watcher)
