"""M6: rke runs with a minimal environment (never the executor's secret key, database URL
or NATS credentials) in a private directory (0700) under the executor's data dir, which
is removed after the run, and wiped of what a killed executor left when one starts."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from autorke_executor.adapters.rke import RkeWorkspace

#: A stand-in rke: prints its environment, where it runs and that directory's mode, and
#: whether it can read the state it was given.
FAKE_RKE = """#!/bin/sh
env | sed 's/^/env: /'
echo "cwd: $(pwd)"
echo "mode: $(stat -c %a .)"
echo "state: $(cat cluster.rkestate)"
"""


@pytest.fixture
def fake_rke(tmp_path: Path) -> str:
    path = tmp_path / "rke"
    path.write_text(FAKE_RKE)
    path.chmod(0o755)
    return str(path)


def test_m6_rke_gets_a_minimal_environment_in_a_private_directory(tmp_path, fake_rke, monkeypatch):
    monkeypatch.setenv("AUTORKE_SECRET_KEY", "the-platform-key")
    monkeypatch.setenv("AUTORKE_DATABASE_URL", "postgresql://u:password@db/autorke")
    monkeypatch.setenv("AUTORKE_NATS_CREDENTIALS", "/secret/executor.creds")
    workspace = RkeWorkspace(tmp_path / "data" / "rke")
    lines: list[str] = []
    run = workspace.run(fake_rke, "up", "nodes: []\n", '{"currentState": {}}', 30, lines.append)
    assert run.exit_code == 0, run.output
    env = {ln[5:].split("=", 1)[0] for ln in lines if ln.startswith("env: ")}
    assert env <= {"PATH", "HOME", "LANG", "TMPDIR", "PWD", "SHLVL", "_", "OLDPWD"}, env
    assert "the-platform-key" not in run.output and "password" not in run.output
    cwd = Path(next(ln for ln in lines if ln.startswith("cwd: "))[5:])
    assert cwd.parent == tmp_path / "data" / "rke" and cwd.name.startswith(f"run-{os.getpid()}-")
    assert "mode: 700" in lines and 'state: {"currentState": {}}' in lines
    assert not cwd.exists(), "the run's directory (every private key of the cluster) is removed"
    assert stat.S_IMODE((tmp_path / "data" / "rke").stat().st_mode) == 0o700


def test_m6_a_start_wipes_what_a_killed_executor_left_and_spares_live_runs(tmp_path):
    root = tmp_path / "rke"
    root.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    left = root / f"run-{dead.stdout.strip()}-abc123"
    left.mkdir()
    (left / "cluster.rkestate").write_text("every private key")
    stray = root / "autorke-rke-old"
    stray.mkdir()
    live = root / f"run-{os.getpid()}-live01"  # a run of this (live) process: another executor's
    live.mkdir()
    RkeWorkspace(root)
    assert not left.exists() and not stray.exists()
    assert live.exists()


def test_m6_the_executor_exit_removes_its_own_runs(tmp_path):
    root = tmp_path / "rke"
    workspace = RkeWorkspace(root)
    own = root / f"run-{os.getpid()}-own001"
    own.mkdir()
    workspace.wipe(lambda pid: pid == os.getpid())  # what the exit hook does
    assert not own.exists()
