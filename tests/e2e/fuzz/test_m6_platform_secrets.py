"""M6 on a running ``autorke up``: the sealing key is held by the inventory, executor and
netcfg only, as a file (0600) and never in any process's environment; the console signs
its sessions with a secret of its own."""
from __future__ import annotations

import stat
from pathlib import Path

from autorke_common.secrets import key_bytes

from .conftest import SERVICES, FuzzPlatform


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_m6_only_the_sealing_services_hold_the_secret_key(fuzz_platform: FuzzPlatform):
    pids = fuzz_platform.service_pids()
    assert set(pids) == set(SERVICES), pids
    key_file = fuzz_platform.data_dir / "secret-key"
    assert len(key_bytes(key_file.read_text())) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    for service, pid in pids.items():
        env = _environment(pid)
        assert "AUTORKE_SECRET_KEY" not in env, f"{service}: the key is never in an environment"
        assert key not in "\0".join(env.values()), service
        if service in ("inventory", "executor", "netcfg"):
            assert env["AUTORKE_SECRET_KEY_FILE"] == str(key_file), service
        else:
            assert "AUTORKE_SECRET_KEY_FILE" not in env, f"{service} must not hold the sealing key"
    console = _environment(pids["console"])
    session_file = Path(console["AUTORKE_SESSION_SECRET_FILE"])
    assert session_file.read_text().strip() != key
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert all("AUTORKE_SESSION_SECRET_FILE" not in _environment(pid) for s, pid in pids.items() if s != "console")
