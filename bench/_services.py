"""Service processes a bench starts (``python -m autorke_<service>``), each on a free port,
ready when its ``/readyz`` answers 200, and stopped by their own PIDs."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from autorke_common.natsserver import free_port


def start(module: str, n: int, env: dict[str, str], folder: Path) -> tuple[list[subprocess.Popen], list[str]]:
    """``n`` replicas of ``module`` (logs in ``folder``); their processes and base URLs."""
    procs, urls = [], []
    for i in range(n):
        port = free_port()
        log_path = folder / f"{module}-{i}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
        procs.append(subprocess.Popen([sys.executable, "-m", module], env={**env, "AUTORKE_PORT": str(port)},
                                      stdout=log, stderr=subprocess.STDOUT))
        urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{urls[-1]}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            stop(procs)
            raise RuntimeError(f"{module} replica {i} not ready; see {log_path}")
    return procs, urls


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
