"""``/api/v1/events`` against a real NATS server: events published to JetStream reach a
browser's stream filtered by subject and by change, and listening creates no durable
consumer on the server (one shared subscription, fanned out in the console). Only a
viewer may listen, a stream ends with the caller's token or session, a viewer never reads
a dead letter's payload, script output or a sealed secret, and one caller holds a bounded
number of streams (M7)."""
from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import nats
import pytest

from autorke_common.bus import EVENTS_STREAM, Bus
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.catalogue.executor import JobStarted, TargetFinished, TargetOutput
from autorke_common.envelope import Envelope
from autorke_console.bootstrap import ConsoleSettings
from autorke_console.entrypoints.events import KEEPALIVE_S
from autorke_console.service_layer.identity import token_expiry
from autorke_lab.idp import issue_token
from autorke_lab.idp.keys import ISSUER_FILE, access_token_claims, load_or_create_key, sign

from .servers import browser_sign_in


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


# -- M7: who may stream, for how long, and what they see ------------------------------------

def _token_without_roles(idp) -> str:
    """A valid token of the lab IdP that carries no role (a service client's, say)."""
    issuer = (idp.server.state_dir / ISSUER_FILE).read_text().strip()
    claims = access_token_claims(issuer, "some-client", "openid", 600, None, roles=())
    return sign(load_or_create_key(idp.server.state_dir), claims, typ="at+jwt")


async def _until_closed(lines, deadline_s: float) -> list[str]:
    """Every line up to the end of the stream; fails if it is still open after ``deadline_s``."""
    seen: list[str] = []

    async def read() -> None:
        async for line in lines:
            seen.append(line)

    try:
        await asyncio.wait_for(read(), deadline_s)
    except TimeoutError:
        raise AssertionError(f"the stream was still open after {deadline_s:.0f} s: {seen[-5:]}") from None
    return seen


def _closing_event(lines: list[str]) -> str | None:
    events = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("event:")]
    return events[-1] if events else None


@pytest.mark.asyncio
async def test_m7_events_need_the_viewer_role(console, console_idp):
    async with httpx.AsyncClient(base_url=console.url, timeout=20) as client:
        no_roles = {"Authorization": f"Bearer {_token_without_roles(console_idp)}"}
        assert (await client.get("/api/v1/me", headers=no_roles)).json()["roles"] == []
        async with client.stream("GET", "/api/v1/events", headers=no_roles) as r:
            assert r.status_code == 403
            await r.aread()
            assert r.json()["type"].endswith("/forbidden")
        async with client.stream("GET", "/api/v1/events", headers=console_idp.headers("viewer")) as r:
            assert r.status_code == 200
            await _ready(r)


@pytest.mark.asyncio
async def test_m7_the_stream_ends_when_the_token_expires(console, console_idp):
    lifetime_s = 5
    token = issue_token("viewer", console_idp.server.state_dir, ttl_s=lifetime_s)
    expires_at = token_expiry(token)
    async with (httpx.AsyncClient(base_url=console.url, timeout=httpx.Timeout(20, read=None)) as client,
                client.stream("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as r):
        assert r.status_code == 200
        lines = await _ready(r)
        rest = await _until_closed(lines, lifetime_s + 60)
        closed_at = time.time()
        # and the same token opens no new stream (the verifier's leeway notwithstanding)
        again = await client.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert _closing_event(rest) == "expired"
    assert closed_at >= expires_at - 1, "not before the token's exp"
    assert again.status_code == 401 and again.json()["type"].endswith("/unauthenticated")


@pytest.mark.asyncio
async def test_m7_the_stream_ends_when_the_session_signs_out(console):
    with browser_sign_in(console.url, "viewer") as browser:
        csrf = browser.get("/ui/events").text.split('name="csrf-token" content="')[1].split('"')[0]
        cookies = {c.name: c.value for c in browser.cookies.jar}
        async with (httpx.AsyncClient(base_url=console.url, cookies=cookies,
                                      timeout=httpx.Timeout(20, read=None)) as client,
                    client.stream("GET", "/api/v1/events") as r):
            assert r.status_code == 200
            lines = await _ready(r)
            assert (await asyncio.to_thread(browser.post, "/auth/logout", data={"csrf": csrf})).status_code == 303
            rest = await _until_closed(lines, KEEPALIVE_S + 60)
    assert _closing_event(rest) == "signed-out"


@pytest.mark.asyncio
async def test_m7_a_viewer_sees_no_dead_letter_payload_no_script_output_and_no_sealed_secret(
        console, console_idp, nats_server):
    bus = Bus(nats_server.url, "sse-m7-test")
    await bus.connect()
    change = f"chg-{uuid.uuid4().hex[:8]}"
    events = [
        Envelope.of(MessageDeadLettered(consumer="executor", stream="AUTORKE_COMMANDS",
                                        subject="autorke.cmd.executor.run", message_id="m-1", deliveries=1,
                                        error="permanent: bad", payload='{"secrets": {"k": "gAAAAA-sealed"}}'),
                    source="executor", correlation_id=change),
        Envelope.of(TargetOutput(job_id="j-1", change_id=change, seq=1,
                                 lines=[{"host": "m001", "stream": "stdout", "line": "password=hunter2"}]),
                    source="executor", correlation_id=change),
        Envelope.of(TargetFinished(job_id="j-1", change_id=change, host="rke", status="succeeded", duration_s=1.0,
                                   output="password=hunter2", result={"rkestate": "gAAAAA-state", "nodes": 1}),
                    source="executor", correlation_id=change),
    ]
    seen: dict[str, list[dict]] = {}
    try:
        async with httpx.AsyncClient(base_url=console.url, timeout=20) as client:
            async def watch(user: str) -> None:
                async with client.stream("GET", "/api/v1/events", params={"correlation_id": change},
                                         headers=console_idp.headers(user)) as r:
                    assert r.status_code == 200
                    lines = await _ready(r)
                    ready.append(user)
                    seen[user] = await _frames(lines, len(events), timeout=30)

            ready: list[str] = []
            watchers = [asyncio.create_task(watch(u)) for u in ("viewer", "operator", "admin")]
            await _eventually(lambda: len(ready) == 3 or any(w.done() for w in watchers))
            for env in events:
                await bus.publish(env)
            await asyncio.gather(*watchers)
    finally:
        await bus.close()
    viewer, operator, admin = ({e["type"]: e for e in seen[u]} for u in ("viewer", "operator", "admin"))
    for own in (viewer, operator):
        dead = own["bus.message.dead_lettered"]
        assert "payload" not in dead["data"] and dead["data"]["error"] == "permanent: bad"
        assert "rkestate" not in own["executor.target.finished"]["data"]["result"]
        assert "gAAAAA" not in json.dumps(own)
    assert "lines" not in viewer["executor.target.output"]["data"]
    assert "output" not in viewer["executor.target.finished"]["data"]
    assert "hunter2" not in json.dumps(viewer)
    assert operator["executor.target.output"]["data"]["lines"][0]["line"] == "password=hunter2"
    assert admin["bus.message.dead_lettered"]["data"]["payload"].startswith('{"secrets"')
    assert admin["executor.target.finished"]["data"]["result"]["rkestate"] == "gAAAAA-state"


async def _eventually(condition, deadline_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_m7_one_caller_holds_a_bounded_number_of_streams(console, console_idp):
    headers = console_idp.headers("operator2")
    limit = ConsoleSettings.model_fields["events_streams_per_subject"].default
    async with httpx.AsyncClient(base_url=console.url, timeout=20,
                                 limits=httpx.Limits(max_connections=limit + 5)) as client:
        streams = [client.stream("GET", "/api/v1/events", headers=headers) for _ in range(limit)]
        opened = [await s.__aenter__() for s in streams]
        try:
            assert [r.status_code for r in opened] == [200] * limit
            # hold on to every reader: a dropped one closes its connection (and so its stream)
            readers = [await _ready(r) for r in opened]
            r = await client.get("/api/v1/events", headers=headers)
            assert r.status_code == 429 and r.json()["type"].endswith("/too-many-streams")
            async with client.stream("GET", "/api/v1/events", headers=console_idp.headers("approver")) as other:
                assert other.status_code == 200, "another caller's streams are not counted"
                await _ready(other)
            assert len(readers) == limit
        finally:
            for s in streams:
                await s.__aexit__(None, None, None)
