"""The executor offers the key exchanges its ``ssh_kex`` setting names, in that order
(against a real lab sshd): the default prefers ECDH P-256 (cheaper for the machine's
OpenSSH, see adapters/ssh.py), curve25519 when asked, and a name paramiko does not know is
refused before any machine is contacted: by the settings at start, and by the connector."""
from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from autorke_common.catalogue.executor import Target
from autorke_executor.adapters.ssh import DEFAULT_KEX, SshConnector
from autorke_executor.bootstrap import create_app

from .conftest import executor_settings, target


def _negotiated(lab, connector: SshConnector, name: str, caplog) -> str:
    """The key exchange paramiko agreed on (its transport logs it at DEBUG)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="paramiko.transport"):
        session = connector.connect(Target(**target(lab, name)), 10)
    try:
        assert session.run("hostname", None, 10).stdout.decode().strip() == name
    finally:
        session.close()
    agreed = [r.getMessage()[len("Kex: "):] for r in caplog.records if r.getMessage().startswith("Kex: ")]
    assert len(agreed) == 1, agreed
    return agreed[0]


def test_default_and_configured_key_exchange(lab, caplog):
    key, user = lab.private_key, lab.ssh_user
    assert _negotiated(lab, SshConnector(key, user), "m002", caplog) == DEFAULT_KEX[0] == "ecdh-sha2-nistp256"
    curve = SshConnector(key, user, ("curve25519-sha256@libssh.org",))
    assert _negotiated(lab, curve, "m002", caplog) == "curve25519-sha256@libssh.org"


def test_unknown_key_exchange_is_refused_before_connecting(lab):
    lab.reset("m003")
    with pytest.raises(ValueError, match="not supported.*choose from"):
        SshConnector(lab.private_key, lab.ssh_user, ("curve25519-sha256@libssh.org", "no-such-kex"))
    with pytest.raises(ValueError, match="not supported"):
        SshConnector(lab.private_key, lab.ssh_user, ())
    assert lab.machine("m003").command_log() == []


def test_service_setting_reaches_the_connector(lab, fresh_nats, database, identity):
    app = create_app(executor_settings(fresh_nats.url, database, identity, lab,
                                       ssh_kex=" curve25519-sha256@libssh.org , ecdh-sha2-nistp256"),
                     configure_process=False)
    connector = app.state.ssh_connector()
    assert connector.kex == ("curve25519-sha256@libssh.org", "ecdh-sha2-nistp256")


def test_unknown_key_exchange_setting_fails_the_start(lab, fresh_nats, database, identity):
    with pytest.raises(ValidationError, match="no-such-kex not supported"):
        executor_settings(fresh_nats.url, database, identity, lab, ssh_kex="ecdh-sha2-nistp256,no-such-kex")
