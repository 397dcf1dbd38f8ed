"""C2: the bus's permission table says who may publish and subscribe what, and it is the
code's: every consumer a service creates is granted to that service, executor events come
only from the executor, executor commands only from the orchestrator and the inventory,
and the dashboards user only reads events. Credentials are files only their owner reads."""
from __future__ import annotations

import json
import stat
from types import SimpleNamespace

import pytest

from autorke_common import natsauth
from autorke_common.catalogue.asyncapi import messages
from autorke_common.natsauth import (
    DASHBOARDS,
    SERVICES,
    USERS,
    ServerTls,
    ensure_credentials,
    may_publish,
    may_subscribe,
    server_config,
    subject_matches,
)
from autorke_common.settings import ServiceSettings

EVERY_USER = (*SERVICES, DASHBOARDS)


def consumers_of_the_code() -> dict[str, list]:
    """Every ConsumerSpec each service builds, as its entrypoints build them."""
    from autorke_executor.entrypoints.consumer import run_consumer
    from autorke_inventory.entrypoints.consumer import subscribe as inventory_subscribe
    from autorke_netcfg.bootstrap import HANDLERS
    from autorke_netcfg.entrypoints.consumer import consumers as netcfg_consumers
    from autorke_orchestrator.entrypoints.consumer import (
        dead_letters_of,
        executor_reports,
        inventory_events,
        netcfg_answers_of,
    )

    inventory: list = []
    inventory_subscribe(SimpleNamespace(settings=ServiceSettings(), consume=inventory.append), None)
    return {
        "executor": [run_consumer(None, parallel_jobs=1, ack_wait_s=1.0, max_deliver=1)],
        "inventory": inventory,
        "netcfg": netcfg_consumers(None, HANDLERS, {}, None),
        "orchestrator": [executor_reports(lambda: None), inventory_events(lambda: None),
                         netcfg_answers_of(lambda: None), dead_letters_of(lambda: None)],
    }


def test_c2_every_consumer_the_services_create_is_granted_to_them_and_no_one_else():
    code = consumers_of_the_code()
    assert code, "the services' consumers"
    for service, specs in code.items():
        granted = {(d.stream, d.name, d.filter_subject) for d in USERS[service].durables}
        for spec in specs:
            assert (spec.stream, spec.durable, spec.subject) in granted, (service, spec.durable)
            others = [u for u in EVERY_USER if u != service and any(
                d.name == spec.durable for d in USERS[u].durables)]
            assert not others, f"{spec.durable} granted to {others} too"
            create = f"$JS.API.CONSUMER.CREATE.{spec.stream}.{spec.durable}.{spec.subject}"
            assert [u for u in EVERY_USER if may_publish(u, create)] == [service]
            assert [u for u in EVERY_USER if may_publish(u, f"$JS.ACK.{spec.stream}.{spec.durable}.1.2.3.4.5")] \
                == [service]


def test_c2_only_the_executor_publishes_executor_events():
    for subject in ("autorke.events.executor.job.finished", "autorke.events.executor.target.finished",
                    "autorke.events.executor.job.started"):
        assert [u for u in EVERY_USER if may_publish(u, subject)] == ["executor"]


def test_c2_executor_commands_only_from_the_orchestrator_and_the_inventory():
    assert [u for u in EVERY_USER if may_publish(u, "autorke.cmd.executor.run")] == ["inventory", "orchestrator"]


def test_c2_each_service_publishes_its_own_events_and_dead_letters_only():
    for service in SERVICES:
        assert may_publish(service, f"autorke.events.{service}.thing.happened")
        assert may_publish(service, "autorke.events.bus.message.dead_lettered")
        for other in SERVICES:
            if other != service:
                assert not may_publish(service, f"autorke.events.{other}.thing.happened"), (service, other)


def test_c2_commands_come_from_whom_the_code_says():
    commands = {cls.message_subject() for cls in messages().values() if cls.KIND == "command"}
    assert len(commands) > 5
    expected = {"executor": {"inventory", "orchestrator"}, "inventory": {"orchestrator"},
                "netcfg": {"netcfg", "orchestrator"}}
    for subject in commands:
        owner = subject.split(".")[2]
        assert {u for u in EVERY_USER if may_publish(u, subject)} == expected[owner], subject


def test_c2_dashboards_may_subscribe_events_and_nothing_else():
    user = USERS[DASHBOARDS]
    assert user.publish_allow() == []
    assert user.permissions()["publish"] == {"deny": [">"]}
    assert user.subscribe_allow() == ["autorke.events.>"]
    for subject in ("autorke.events.bus.x", "autorke.cmd.executor.run", "$JS.API.STREAM.INFO.AUTORKE_EVENTS",
                    "$JS.API.CONSUMER.CREATE.AUTORKE_EVENTS.x", "_INBOX.x"):
        assert not may_publish(DASHBOARDS, subject)
    assert may_subscribe(DASHBOARDS, "autorke.events.executor.job.finished")
    assert not may_subscribe(DASHBOARDS, "autorke.cmd.executor.run")


def test_c2_no_one_may_delete_purge_or_read_stream_messages_and_only_the_orchestrator_updates_streams():
    for user in EVERY_USER:
        for stream in natsauth.STREAMS:
            for op in ("DELETE", "PURGE", "MSG.GET", "MSG.DELETE", "SNAPSHOT"):
                assert not may_publish(user, f"$JS.API.STREAM.{op}.{stream}")
            assert may_publish(user, f"$JS.API.STREAM.UPDATE.{stream}") == (user == "orchestrator")
        assert not may_publish(user, "$JS.API.CONSUMER.DELETE.AUTORKE_COMMANDS.executor-run")


def test_c2_each_user_reads_only_its_own_replies():
    for user in SERVICES:
        assert may_subscribe(user, f"_INBOX_{user}.abc.1")
        assert not may_subscribe(user, "_INBOX.abc.1")
        for other in EVERY_USER:
            if other != user:
                assert not may_subscribe(user, f"_INBOX_{other}.abc.1")
    assert [u for u in EVERY_USER if may_subscribe(u, "autorke.cmd.executor.run")] == []
    assert {u for u in EVERY_USER if may_subscribe(u, "autorke.events.x.y")} == {"console", DASHBOARDS}


@pytest.mark.parametrize(("pattern", "subject", "matches"), [
    ("a.>", "a.b.c", True), ("a.>", "a", False), ("a.*.c", "a.b.c", True), ("a.*.c", "a.b.d", False),
    ("a.b", "a.b.c", False), ("a.b.>", "a.b.>", True), ("a.b.>", "a.>", False),
])
def test_c2_subject_matching_is_nats_matching(pattern, subject, matches):
    assert subject_matches(pattern, subject) is matches


def test_c2_credentials_are_0600_in_a_0700_folder_and_kept_over_a_restart(tmp_path):
    creds = tmp_path / "nats" / "creds"
    keys = ensure_credentials(creds)
    assert set(keys) == set(EVERY_USER)
    assert stat.S_IMODE(creds.stat().st_mode) == 0o700
    for user in EVERY_USER:
        path = creds / f"{user}.nk"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().startswith("SU")
        assert keys[user].startswith("U") and keys[user] not in path.read_text()
    assert ensure_credentials(creds) == keys, "a restart keeps the credentials"
    assert len(set(keys.values())) == len(keys)


def test_c2_the_server_config_holds_public_keys_permissions_jetstream_and_tls(tmp_path):
    keys = ensure_credentials(tmp_path / "creds")
    text = server_config(keys, store_dir=tmp_path / "js", listen="0.0.0.0:4222",
                         tls=ServerTls("/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt"))
    config = json.loads(text)
    assert config["jetstream"] == {"store_dir": str(tmp_path / "js")}
    assert config["listen"] == "0.0.0.0:4222"
    assert config["tls"] == {"cert_file": "/tls/tls.crt", "key_file": "/tls/tls.key", "ca_file": "/tls/ca.crt",
                             "timeout": 5}
    users = {u["nkey"]: u["permissions"] for u in config["authorization"]["users"]}
    assert set(users) == set(keys.values())
    assert users[keys["dashboards"]]["publish"] == {"deny": [">"]}
    for user in EVERY_USER:  # no seed is in the config
        assert (tmp_path / "creds" / f"{user}.nk").read_text().strip() not in text
    with pytest.raises(ValueError, match="no permissions"):
        server_config({"intruder": "UABC"})
