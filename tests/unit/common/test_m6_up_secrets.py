"""M6 under ``autorke up``: a valid key is generated once (a file, 0600) and given as a
file to the inventory, executor and netcfg only; the console gets a session secret of its
own; a weak key given by the operator stops ``autorke up`` before anything starts."""
from __future__ import annotations

import argparse
import stat

import pytest

from autorke_common import supervisor
from autorke_common.secrets import WeakSecretKey, key_bytes
from fixtures.secret_keys import secret_key


def test_m6_up_generates_a_valid_key_file_for_the_sealing_services_only(tmp_path):
    held = supervisor.service_secrets(tmp_path, {})
    key_file = tmp_path / "secret-key"
    assert len(key_bytes(key_file.read_text())) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for name in ("inventory", "executor", "netcfg"):
        assert held[name] == {"AUTORKE_SECRET_KEY_FILE": str(key_file)}
    assert "orchestrator" not in held
    session_file = tmp_path / "session-secret"
    assert held["console"] == {"AUTORKE_SESSION_SECRET_FILE": str(session_file)}
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert session_file.read_text() != key_file.read_text()
    assert supervisor.service_secrets(tmp_path, {}) == held, "made once, kept across starts"


def test_m6_an_operator_key_goes_to_the_sealing_services_and_is_checked(tmp_path):
    key = secret_key("operator")
    held = supervisor.service_secrets(tmp_path, {"AUTORKE_SECRET_KEY": key})
    assert held["executor"] == {"AUTORKE_SECRET_KEY": key} and "AUTORKE_SECRET_KEY" not in held["console"]
    with pytest.raises(WeakSecretKey):
        supervisor.service_secrets(tmp_path, {"AUTORKE_SECRET_KEY": "change-me"})


def test_m6_up_with_a_weak_key_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTORKE_SECRET_KEY", "hunter2")
    started = []
    monkeypatch.setattr(supervisor.Supervisor, "add", lambda self, child: started.append(child))
    monkeypatch.setattr(supervisor.signal, "signal", lambda *_: None)  # pytest keeps its own handlers
    args = argparse.Namespace(data_dir=tmp_path / ".autorke", port_offset=0, nats_url=None,
                              nats_credentials=None, database_url=None, no_lab=True, no_demo=True,
                              machines=1, lab_address_base="127.0.1.1", ready_timeout=1.0,
                              db_schema_prefix="")
    assert supervisor.run_up(args) == 2
    assert started == []
    assert "32 random bytes" in capsys.readouterr().out
