"""``/api/v1/events`` against a real NATS server: events published to JetStream reach a
browser's stream filtered by subject and by change, and listening creates no durable
consumer on the server (one shared subscription, fanned out in the console)."""
from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import nats
import pytest

from autorke_common.bus import EVENTS_STREAM, Bus
from autorke_common.catalogue.executor import JobStarted
from autorke_common.envelope import Envelope


async def _frames(lines, want: int, timeout: float = 10.0) -> list[dict]:
    """The first ``want`` data events (the ``ready`` event and keepalives skipped)."""
    out: list[dict] = []

    async def read() -> None:
        event = None
        async for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event is None:
                out.append(json.loads(line[5:]))
                if len(out) >= want:
                    return
            elif line == "":
                event = None

    await asyncio.wait_for(read(), timeout)
    return out


async def _publish(bus: Bus, change_id: str, job: str) -> str:
    env = Envelope.of(JobStarted(job_id=job, change_id=change_id, kind="script", action="facts",
                                 hosts=["m001"]), source="executor", correlation_id=change_id)
    await bus.publish(env)
    return env.id


async def _ready(response: httpx.Response):
    """Wait for the stream's ``ready`` event; answers the line iterator to read on with."""
    lines = response.aiter_lines()
    async for line in lines:
        if line.startswith("event: ready"):
            async for rest in lines:  # its data line, then the blank line ending it
                if rest == "":
                    return lines
    raise AssertionError("stream ended before ready")


@pytest.mark.asyncio
async def test_events_stream_live_and_filtered(console, console_idp, nats_server):
    bus = Bus(nats_server.url, "sse-test")
    await bus.connect()
    change = f"chg-{uuid.uuid4().hex[:8]}"
    headers = console_idp.headers("viewer")
    try:
        async with (httpx.AsyncClient(base_url=console.url, timeout=20) as client,
                    client.stream("GET", "/api/v1/events", headers=headers,
                                  params={"subject": "executor.job.*", "correlation_id": change}) as r):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = await _ready(r)
            await _publish(bus, "another-change", "j-other")   # filtered out: other change
            wanted = await _publish(bus, change, "j-1")
            frames = await _frames(lines, 1)
        assert frames[0]["id"] == wanted
        assert frames[0]["type"] == "executor.job.started" and frames[0]["correlation_id"] == change
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_listening_creates_no_durable_consumer(console, console_idp, nats_server):
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    before = {c.name for c in await js.consumers_info(EVENTS_STREAM)} if await _has_stream(js) else set()
    try:
        async with httpx.AsyncClient(base_url=console.url, timeout=20) as client:
            streams = [client.stream("GET", "/api/v1/events", headers=console_idp.headers("viewer"))
                       for _ in range(3)]
            opened = [await s.__aenter__() for s in streams]
            for r in opened:
                await _ready(r)
            after = {c.name for c in await js.consumers_info(EVENTS_STREAM)}
            for s in streams:
                await s.__aexit__(None, None, None)
        assert after == before
    finally:
        await nc.close()


async def _has_stream(js) -> bool:
    try:
        await js.stream_info(EVENTS_STREAM)
        return True
    except Exception:  # noqa: BLE001
        return False


def test_a_bad_subject_filter_is_a_422_problem(console, console_idp):
    r = httpx.get(f"{console.url}/api/v1/events", params={"subject": "a.>.b"},
                  headers=console_idp.headers("viewer"))
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-subject")


def test_events_need_a_token(console):
    assert httpx.get(f"{console.url}/api/v1/events").status_code == 401
