"""C2 against a real nats-server started from the wheel with the generated configuration:
a client without credentials is refused, a service's credentials cannot publish another's
subjects (and what was refused is not in the stream), the dashboards user reads events and
can do nothing else, and every service with its own credentials still does what it does —
creates its consumers, publishes its events and dead letters, receives and acks."""
from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.api import ConsumerConfig

from autorke_common import natsdeploy
from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, Bus, ConsumerSpec
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.envelope import Envelope
from autorke_common.natsauth import (
    DASHBOARDS,
    SERVICES,
    USERS,
    ServerTls,
    credentials_file,
    ensure_credentials,
    may_publish,
    new_seed,
    server_config,
    write_server_config,
)
from autorke_common.natsserver import EmbeddedNats, nats_server_binary


@dataclass
class SecuredNats:
    server: EmbeddedNats
    creds: Path

    @property
    def url(self) -> str:
        return self.server.url

    def bus(self, user: str) -> Bus:
        return Bus(self.url, user, credentials=str(credentials_file(self.creds, user)))


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    creds = tmp_path / "nats" / "creds"
    config = write_server_config(tmp_path / "nats" / "nats-server.conf", server_config(ensure_credentials(creds)))
    server = EmbeddedNats(tmp_path / "nats", config_file=config)
    server.start()
    yield SecuredNats(server, creds)
    server.stop()


def envelope(subject: str) -> Envelope:
    env = Envelope.of(MessageDeadLettered(consumer="probe", stream="probe", subject=subject, message_id=None,
                                          deliveries=1, error="probe", payload=""), source="probe")
    env.subject = subject
    return env


def concrete(filter_subject: str) -> str:
    """A subject the filter takes: ``*`` -> ``job``, ``>`` -> ``probe.finished``; all the
    events (the console's log) -> one of the console's own."""
    if filter_subject == "autorke.events.>":
        return "autorke.events.console.probe.finished"
    return filter_subject.replace("*", "job").replace(">", "probe.finished")


async def stored(bus: Bus, stream: str, subject: str) -> int:
    info = await bus.js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


def test_c2_the_generated_configuration_is_one_the_server_accepts(tmp_path):
    config = write_server_config(tmp_path / "nats.conf", server_config(ensure_credentials(tmp_path / "creds")))
    run = subprocess.run([nats_server_binary(), "-t", "-c", str(config)], check=False, capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr


async def test_c2_a_client_without_credentials_is_refused(secured_nats):
    with pytest.raises(Exception, match="(?i)authorization violation"):
        await nats.connect(secured_nats.url, allow_reconnect=False, connect_timeout=2)
    with pytest.raises(PermissionError, match="refused the credentials"):
        await Bus(secured_nats.url, "orchestrator").connect(attempts=3)
    stranger = secured_nats.creds.parent / "stranger.nk"  # a well-formed seed the server does not know
    stranger.write_bytes(new_seed())
    with pytest.raises(PermissionError):
        await Bus(secured_nats.url, "orchestrator", credentials=str(stranger)).connect(attempts=3)


@pytest.mark.parametrize(("user", "subject", "stream"), [
    ("inventory", "autorke.events.executor.job.finished", EVENTS_STREAM),
    ("netcfg", "autorke.cmd.executor.run", COMMANDS_STREAM),
    ("executor", "autorke.cmd.executor.run", COMMANDS_STREAM),
    ("console", "autorke.cmd.inventory.membership.assign", COMMANDS_STREAM),
    ("netcfg", "autorke.events.orchestrator.change.finished", EVENTS_STREAM),
])
async def test_c2_a_services_credentials_cannot_publish_anothers_subjects(secured_nats, user, subject, stream):
    owner = secured_nats.bus("orchestrator")  # creates the streams
    bus = secured_nats.bus(user)
    await owner.connect(attempts=5)
    await bus.connect(attempts=5)
    try:
        with pytest.raises(PermissionError, match=f"refused '{user}' publishing to {subject}"):
            await bus.publish(envelope(subject), timeout=2.0)
        assert subject.lower() in bus.refused
        assert await stored(owner, stream, subject) == 0, "the refused message is not in the stream"
    finally:
        await bus.close()
        await owner.close()


async def test_c2_a_service_cannot_read_another_services_consumer_nor_widen_its_own(secured_nats):
    executor, inventory = secured_nats.bus("executor"), secured_nats.bus("inventory")
    await executor.connect(attempts=5)
    await inventory.connect(attempts=5)
    try:
        await executor._pull_subscription(ConsumerSpec(durable="executor-run", subject="autorke.cmd.executor.run",
                                                       handler=None, stream=COMMANDS_STREAM))
        with pytest.raises(Exception):  # noqa: B017 - refused: no reply, the API call times out
            sub = await inventory.js.pull_subscribe("autorke.cmd.executor.run", durable="executor-run",
                                                    stream=COMMANDS_STREAM)
            await sub.fetch(1, timeout=1.0)
        with pytest.raises(Exception):  # noqa: B017 - its own name, a filter wider than its own
            await inventory.js.add_consumer(COMMANDS_STREAM, ConsumerConfig(
                name="inventory-commands", durable_name="inventory-commands", filter_subject="autorke.cmd.>"),
                timeout=1.0)
        assert {"$js.api.consumer.info.autorke_commands.executor-run",
                "$js.api.consumer.create.autorke_commands.inventory-commands.autorke.cmd.>"} <= inventory.refused
    finally:
        await inventory.close()
        await executor.close()


async def test_c2_dashboards_read_events_and_can_do_nothing_else(secured_nats):
    executor = secured_nats.bus("executor")
    await executor.connect(attempts=5)
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(secured_nats.url, allow_reconnect=False, error_cb=on_error,
                            nkeys_seed=str(credentials_file(secured_nats.creds, DASHBOARDS)))
    try:
        seen: list[str] = []

        async def on_event(msg) -> None:
            seen.append(msg.subject)
        await nc.subscribe("autorke.events.>", cb=on_event)
        await nc.flush()
        await executor.publish(envelope("autorke.events.executor.job.finished"))
        await _until(lambda: seen, what=lambda: "the executor's event on the dashboards' subscription")
        assert seen == ["autorke.events.executor.job.finished"]

        for subject in ("autorke.events.dashboards.x", "autorke.events.executor.job.finished",
                        "autorke.cmd.executor.run", "$JS.API.STREAM.INFO.AUTORKE_EVENTS",
                        "$JS.API.CONSUMER.CREATE.AUTORKE_EVENTS.dash"):
            await nc.publish(subject, b"{}")
        await nc.subscribe("autorke.cmd.>")
        await nc.subscribe("_INBOX_executor.>")
        await nc.flush()
        # each refusal is its own -ERR from the server: wait for the ones that matter by name
        # (not for a count, which says nothing of which arrived)
        expected = ['publish to "autorke.cmd.executor.run"', 'publish to "$js.api.stream.info.autorke_events"',
                    'subscription to "autorke.cmd.>"', 'subscription to "_inbox_executor.>"']

        def missing() -> list[str]:
            refused = " ".join(errors).lower()
            return [e for e in expected if e not in refused]
        await _until(lambda: not missing(), what=lambda: f"refusals {missing()} (errors so far: {errors})")
        with pytest.raises(Exception):  # noqa: B017 - no JetStream API at all
            await nc.jetstream().stream_info(EVENTS_STREAM, timeout=1.0)
        assert await stored(executor, EVENTS_STREAM, "autorke.events.executor.job.finished") == 1
    finally:
        await nc.close()
        await executor.close()


async def _until(predicate, timeout: float = 30.0, what=lambda: "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout:g} s: {what()}"
        await asyncio.sleep(0.05)


async def test_c2_every_service_with_its_own_credentials_still_does_what_it_does(secured_nats):
    """Each service connects (ensures the streams), publishes its own event and a dead letter,
    and every one of its durables is created, receives a message its legitimate publisher
    sent, and acks it."""
    buses = {user: secured_nats.bus(user) for user in SERVICES}
    received: dict[str, list[str]] = {}
    try:
        for bus in buses.values():
            await bus.connect(attempts=5)
        for user, bus in buses.items():
            assert await bus.publish(envelope(f"autorke.events.{user}.probe.happened"))
            assert await bus.publish(envelope("autorke.events.bus.message.dead_lettered"))
            for d in USERS[user].durables:
                received[d.name] = []

                async def handle(env: Envelope, delivery, name: str = d.name) -> None:
                    received[name].append(delivery.subject)
                bus.subscribe(ConsumerSpec(durable=d.name, subject=d.filter_subject, handler=handle, stream=d.stream))
        sent: dict[str, str] = {}
        for user in SERVICES:
            for d in USERS[user].durables:
                subject = concrete(d.filter_subject)
                publisher = next(u for u in SERVICES if may_publish(u, subject))
                await buses[publisher].publish(envelope(subject))
                sent[d.name] = subject
        await _until(lambda: all(received[name] for name in sent), timeout=30)
        for user in SERVICES:
            for d in USERS[user].durables:
                assert sent[d.name] in received[d.name], d.name
                info = await buses[user].js.consumer_info(d.stream, d.name)
                assert info.config.filter_subject == d.filter_subject
        for user in SERVICES:  # every delivery acked: nothing pending, nothing redelivered
            for d in USERS[user].durables:
                async def acked(stream=d.stream, name=d.name, bus=buses[user]) -> bool:
                    info = await bus.js.consumer_info(stream, name)
                    return info.num_ack_pending == 0 and info.num_redelivered == 0
                deadline = asyncio.get_running_loop().time() + 15
                while not await acked():
                    assert asyncio.get_running_loop().time() < deadline, f"{d.name} did not ack"
                    await asyncio.sleep(0.1)
        assert not any(bus.refused for bus in buses.values()), {u: b.refused for u, b in buses.items()}
    finally:
        for bus in buses.values():
            await bus.close()


async def test_c2_over_tls_a_service_verifies_the_server_with_the_ca_and_connects_with_its_nkey(tmp_path):
    """As compose runs it: the server's certificate from files, the client a ``tls://`` URL
    and the CA; a client that does not know the CA does not connect."""
    natsdeploy.self_signed_tls(tmp_path, "localhost")
    creds = tmp_path / "creds"
    tls = ServerTls(str(tmp_path / "tls" / "server.crt"), str(tmp_path / "tls" / "server.key"))
    config = write_server_config(tmp_path / "nats.conf", server_config(ensure_credentials(creds), tls=tls))
    server = EmbeddedNats(tmp_path / "js", config_file=config).start()
    url = f"tls://localhost:{server.port}"
    try:
        bus = Bus(url, "executor", credentials=str(credentials_file(creds, "executor")),
                  tls_ca_file=str(tmp_path / "tls" / "ca.crt"))
        await bus.connect(attempts=5)
        try:
            assert await bus.publish(envelope("autorke.events.executor.job.finished"))
        finally:
            await bus.close()
        with pytest.raises(ConnectionError):  # the system's CAs do not know ours
            await Bus(url, "executor", credentials=str(credentials_file(creds, "executor"))).connect(attempts=2)
    finally:
        server.stop()
