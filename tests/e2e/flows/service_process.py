"""A service run as a real child process (``python -m autorke_<svc>``), as ``autorke up``
runs it, for the e2e flows that must kill it with SIGKILL and start it again on the same
database and NATS server.

The test owns the process: it is stopped by its own PID (SIGTERM, then SIGKILL), also
when the test fails, and the kernel kills it should pytest itself die (parent-death
signal), so none outlives the session.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from autorke_lab.machines.addresses import free_port

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class ServiceProcess:
    """``python -m <module>`` with ``settings`` as AUTORKE_* variables on a free port;
    ``base_url`` stays the same across restarts."""

    def __init__(self, module: str, settings: dict[str, str], log_dir: Path) -> None:
        self.module = module
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTORKE_")}
        self.env = {**clean, "PYTHONUNBUFFERED": "1", "AUTORKE_PORT": str(self.port),
                    **{f"AUTORKE_{k.upper()}": v for k, v in settings.items()}}
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, ready_timeout: float = 240) -> None:
        assert not self.alive(), f"{self.module} already runs (pid {self.pid})"
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{self.module}.{self.starts}.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module], env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=_die_with_parent)  # noqa: PLW1509 - one prctl, no lock
        # Generous: a cold start (imports, migrations, bus) on a shared, loaded machine.
        deadline = time.monotonic() + ready_timeout
        while True:
            if not self.alive():
                raise AssertionError(f"{self.module} exited ({self.proc.returncode}); see {self.log_dir}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"{self.module} not ready within {ready_timeout} s; see {self.log_dir}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no ack; what a crash or an OOM kill does."""
        assert self.alive(), f"{self.module} is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 20) -> None:
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
