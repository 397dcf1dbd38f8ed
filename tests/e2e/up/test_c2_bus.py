"""C2 on ``autorke up``: the embedded NATS refuses a client without credentials, each
service process holds only its own credentials, and one service's credentials cannot
publish another's subjects (netcfg cannot command the executor, the inventory cannot forge
an executor report): the server refuses, the message goes nowhere."""
from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from autorke_common.bus import Bus
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.envelope import Envelope
from autorke_common.platform_env import DEFAULT_PORTS
from autorke_lab.machines.addresses import lease_free_range
from fixtures.waiting import wait

from ..ports import free_offset
from .test_autorke_up import SERVICES, descendants


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    def said() -> bool:
        assert proc.poll() is None, log.read_text()[-3000:]
        return text in log.read_text(errors="replace")

    wait(said, timeout, f"{text!r} in the output of autorke up")


def _forged(subject: str) -> Envelope:
    env = Envelope.of(MessageDeadLettered(consumer="x", stream="x", subject=subject, message_id=None,
                                          deliveries=1, error="forged", payload=""), source="intruder")
    env.subject = subject
    return env


async def _refused(url: str, user: str, creds: Path, subject: str) -> str:
    bus = Bus(url, user, credentials=str(creds / f"{user}.nk"))
    await bus.connect(attempts=10)
    try:
        with pytest.raises(PermissionError) as refused:
            await bus.publish(_forged(subject), timeout=3.0)
        return str(refused.value)
    finally:
        await bus.close()


async def _anonymous_refused(url: str) -> str:
    with pytest.raises(Exception) as refused:
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=3)
        await nc.publish("autorke.cmd.executor.run", b"{}")
    return str(refused.value)


@pytest.mark.slow
def test_c2_on_autorke_up_the_bus_refuses_strangers_and_each_service_is_held_to_its_subjects(tmp_path):
    lease = lease_free_range()
    offset = free_offset()
    data = tmp_path / ".autorke"
    log = tmp_path / "up.log"
    autorke = Path(sys.executable).parent / "autorke"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(autorke), "up", "--data-dir", str(data), "--port-offset", str(offset), "--machines", "3",
             "--lab-address-base", lease.base, "--no-demo"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")})
    try:
        _wait_for(log, "AutoRKE is up.", proc, 240)
        creds = data / "nats" / "creds"
        url = f"nats://127.0.0.1:{DEFAULT_PORTS['nats'] + offset}"
        assert str(creds / "dashboards.nk") in log.read_text(), "the summary says where the dashboards creds are"
        assert stat.S_IMODE(creds.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in creds.iterdir())

        # each service process holds its own credentials and no other's; nothing else holds any
        held = {}
        for pid in descendants(proc.pid):
            env = _environ(pid)
            if "AUTORKE_NATS_CREDENTIALS" in env:
                held[env.get("AUTORKE_SERVICE_NAME", f"pid {pid}")] = env["AUTORKE_NATS_CREDENTIALS"]
        assert held == {name: str(creds / f"{name}.nk") for name in SERVICES}

        assert "authorization violation" in asyncio.run(_anonymous_refused(url)).lower()
        for user, subject in (("netcfg", "autorke.cmd.executor.run"),
                              ("inventory", "autorke.events.executor.job.finished"),
                              ("console", "autorke.cmd.executor.run")):
            assert f"refused '{user}' publishing to {subject}" in asyncio.run(_refused(url, user, creds, subject))
        server_log = (data / "logs" / "nats-server.log").read_text()
        assert 'Publish Violation - Subject "autorke.cmd.executor.run"' in server_log
        assert 'Publish Violation - Subject "autorke.events.executor.job.finished"' in server_log
        assert "Authorization Violation" in server_log or "authentication error" in server_log
        up_log = log.read_text()
        for name in SERVICES:  # the services themselves were never refused anything
            service_log = (data / "logs" / f"{name}.log").read_text(errors="replace")
            assert "nats refused" not in service_log, (name, service_log[-2000:])
        assert "!!" not in up_log, up_log[-3000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        lease.release()
