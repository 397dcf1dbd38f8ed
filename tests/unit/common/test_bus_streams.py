"""The two JetStream streams are created with the replicas the deployment asks for
(``AUTORKE_NATS_STREAM_REPLICAS``: three on a three-node NATS cluster), and a stream of
another replica count is brought to it (a single-node stream grown to R3)."""
from __future__ import annotations

import asyncio

from nats.js.errors import NotFoundError

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, Bus
from autorke_common.settings import ServiceSettings


class StreamsApi:
    """JetStream's stream calls, as the server would answer them: ``have`` are the streams there."""

    def __init__(self, have: dict | None = None) -> None:
        self.have = dict(have or {})
        self.added: list = []
        self.updated: list = []

    async def stream_info(self, name: str):
        if name not in self.have:
            raise NotFoundError
        return type("Info", (), {"config": self.have[name]})()

    async def add_stream(self, cfg) -> None:
        self.added.append(cfg)
        self.have[cfg.name] = cfg

    async def update_stream(self, cfg) -> None:
        self.updated.append(cfg)
        self.have[cfg.name] = cfg


def _ensure(bus: Bus, api: StreamsApi) -> StreamsApi:
    bus.js = api  # type: ignore[assignment]
    asyncio.run(bus.ensure_streams())
    return api


def test_streams_are_created_with_the_configured_replicas():
    api = _ensure(Bus("nats://127.0.0.1:1", "orchestrator", stream_replicas=3), StreamsApi())
    assert {c.name: c.num_replicas for c in api.added} == {EVENTS_STREAM: 3, COMMANDS_STREAM: 3}


def test_a_single_replica_stream_is_grown_and_an_equal_one_left_alone():
    single = _ensure(Bus("nats://127.0.0.1:1", "orchestrator"), StreamsApi())
    assert {c.num_replicas for c in single.added} == {1}
    grown = _ensure(Bus("nats://127.0.0.1:1", "orchestrator", stream_replicas=3), StreamsApi(single.have))
    assert {c.name: c.num_replicas for c in grown.updated} == {EVENTS_STREAM: 3, COMMANDS_STREAM: 3}
    again = _ensure(Bus("nats://127.0.0.1:1", "orchestrator", stream_replicas=3), StreamsApi(grown.have))
    assert again.added == [] and again.updated == []


def test_one_replica_unless_the_deployment_says_otherwise(monkeypatch):
    assert ServiceSettings().nats_stream_replicas == 1
    monkeypatch.setenv("AUTORKE_NATS_STREAM_REPLICAS", "3")
    assert ServiceSettings().nats_stream_replicas == 3
