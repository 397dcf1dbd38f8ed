"""The console's event log against a real NATS server and database: events published to
JetStream are kept once each (its durable consumer; a republished id is a duplicate),
read back newest first through ``/api/v1/events/history`` with filters and cursors, each
as the live stream would show it to the caller (a viewer gets no script output, nobody a
sealed value); a bad filter is refused with the field named; the Events page opens with
them."""
from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from autorke_common.bus import Bus
from autorke_common.catalogue.executor import JobStarted, TargetFinished, TargetOutput
from autorke_common.envelope import Envelope
from autorke_console.service_layer import event_log
from fixtures.waiting import wait

from .servers import browser_sign_in


def _history(console, idp, user: str = "viewer", **params) -> httpx.Response:
    return httpx.get(f"{console.url}/api/v1/events/history", headers=idp.headers(user), params=params, timeout=20)


def _wait_kept(console, idp, change: str, n: int, timeout: float = 30.0) -> list[dict]:
    return wait(lambda: (items := _history(console, idp, "admin", correlation_id=change, limit=100).json()["items"])
                and len(items) >= n and items, timeout, f"{n} events of {change} kept")


@pytest.mark.asyncio
async def test_events_are_kept_once_and_read_back_newest_first_as_the_caller_may_see_them(
        console, console_idp, nats_server):
    bus = Bus(nats_server.url, "event-log-test")
    await bus.connect()
    change = f"chg-{uuid.uuid4().hex[:8]}"
    started = [Envelope.of(JobStarted(job_id=f"{change}:step:{i}", change_id=change, kind="script", action="facts",
                                      hosts=["m001"]), source="executor", correlation_id=change) for i in range(3)]
    finished = Envelope.of(TargetFinished(job_id=f"{change}:step:2", change_id=change, host="m001",
                                          status="succeeded", duration_s=1.0, output="the script printed this",
                                          result={"rkestate": "gAAAAA-sealed", "nodes": 1}),
                           source="executor", correlation_id=change)
    output = Envelope.of(TargetOutput(job_id=f"{change}:step:2", change_id=change, seq=1,
                                      lines=[{"host": "m001", "line": "live"}]), source="executor",
                         correlation_id=change)
    try:
        for env in (*started, finished, output):
            assert await bus.publish(env)
            await asyncio.sleep(0.01)  # distinct times: the order below is the order they happened in
    finally:
        await bus.close()

    kept = _wait_kept(console, console_idp, change, 4)
    # a redelivery (JetStream refuses a republished id itself): kept once
    assert event_log.record(started[0].model_dump(mode="json"), console.app.state.runtime.uow()) is False
    assert [e["id"] for e in kept] == [finished.id, *(e.id for e in reversed(started))], "once each, newest first"
    assert all(e["summary"] for e in kept) and f"change {change}" in kept[-1]["summary"]
    admin_view = kept[0]
    assert admin_view["data"]["output"] == "the script printed this"
    assert "rkestate" not in admin_view["data"]["result"], "a sealed value is not kept at all"
    viewer = _history(console, console_idp, "viewer", correlation_id=change).json()["items"]
    assert "output" not in viewer[0]["data"] and "output" in viewer[0]["redacted"]

    first = _history(console, console_idp, correlation_id=change, limit=2).json()
    second = _history(console, console_idp, correlation_id=change, limit=2, cursor=first["next_cursor"]).json()
    assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in kept]
    assert second["next_cursor"] is None
    typed = _history(console, console_idp, subject="executor.target.*", correlation_id=change).json()["items"]
    assert [e["id"] for e in typed] == [finished.id]

    bad = _history(console, console_idp, subject="executor.>.x")
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-subject") and bad.json()["field"] == \
        "subject"
    assert _history(console, console_idp, cursor="not-ours").status_code == 400

    with browser_sign_in(console.url, "viewer") as browser:
        page = browser.get("/ui/events", params={"correlation_id": change})
        assert page.status_code == 200 and all(f'data-event="{e["id"]}"' in page.text for e in kept)
        refused = browser.get("/ui/events", params={"subject": "a..b"})
        assert refused.status_code == 422 and 'data-field-error="subject"' in refused.text
