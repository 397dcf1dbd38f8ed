"""The lab's HTTP servers, each on a port of its own:

* :class:`AppProcess`: a FastAPI app in its own child process (VCalico, the identity
  provider). The parent binds the listening socket (port 0 picks a free port, with no
  race) and hands the file descriptor to the child (:func:`serve_on_fd` is the child's
  side), so the address is known before the child starts and tests running side by side
  never collide. ``stop()`` ends only the child it started, by its pid.
* :class:`HttpServer`: uvicorn in a thread of this process (the runtime's CMDB and
  control API, and tests' stand-ins).
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI


class AppProcess:
    """``python -m <module> --fd N`` serving on a socket bound here; start/stop by pid."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: Path | None = None,
        ready_timeout_s: float = 20.0,
    ) -> None:
        self.module = module
        self._env = env
        self._log_path = log_path
        self._ready_timeout_s = ready_timeout_s
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._sock.listen(128)
        fd = self._sock.fileno()
        out = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "--fd", str(fd)],
                env={**os.environ, **self._env},
                pass_fds=[fd],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        self._sock.close()  # the child holds its own copy
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._ready_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self._proc.returncode} at start")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.module} not ready after {self._ready_timeout_s} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            if self._sock.fileno() != -1:
                self._sock.close()
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def serve_on_fd(app, argv: list[str] | None = None) -> None:
    """The child side: serve ``app`` on the inherited socket given by ``--fd``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


class HttpServer:
    """uvicorn in a background thread; ``start`` returns once it accepts connections.

    The port is bound when the server is made, not when it starts: a lab reserves its
    CMDB port before its components take ephemeral ports of their own, so the kernel can
    never hand one of them the same number (a port chosen as free and released is free
    for anyone until it is bound again)."""

    def __init__(self, app: FastAPI, host: str, port: int):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = host, self._sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.server.install_signal_handlers = lambda: None  # the runtime owns the signals
        self.thread = threading.Thread(target=lambda: self.server.run(sockets=[self._sock]),
                                       name=f"http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP server on {self.host}:{self.port} did not start "
                                   "(port in use?)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self._sock.close()
