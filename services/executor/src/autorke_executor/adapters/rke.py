"""Running the RKE1 ``rke`` binary for one cluster: cluster.yml and cluster.rkestate go
into a private temporary directory (0700, files 0600), the binary runs there with its
output streamed line by line (and kept as its head and tail, like a machine's: an rke run
that prints for half an hour costs bounded memory), the new rkestate is read back, and the
directory is removed whatever happens (it holds every private key of the cluster)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autorke_executor.domain.model import HeadTail

LINE_READ = 64 * 1024  # characters of one output line read at once
ARGS = {
    "up": ["up"],
    "up_update_only": ["up", "--update-only"],
    "snapshot_save": ["etcd", "snapshot-save"],
    "snapshot_restore": ["etcd", "snapshot-restore"],
    "remove": ["remove", "--force"],
}


@dataclass
class RkeRun:
    exit_code: int | None
    output: str
    rkestate: str | None
    timed_out: bool
    kubeconfig: str | None = None


def run_rke(binary: str, action: str, cluster_yml: str, rkestate: str | None, timeout_s: float,
            on_line: Callable[[str], None], snapshot_name: str | None = None,
            extra_args: list[str] | None = None) -> RkeRun:
    argv = [binary, *ARGS[action], "--config", "cluster.yml"]
    if action in ("snapshot_save", "snapshot_restore") and snapshot_name:
        argv += ["--name", snapshot_name]
    argv += list(extra_args or [])
    work = Path(tempfile.mkdtemp(prefix="autorke-rke-"))
    try:
        os.chmod(work, 0o700)
        _write_private(work / "cluster.yml", cluster_yml)
        if rkestate:
            _write_private(work / "cluster.rkestate", rkestate)
        proc = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        kept = HeadTail()
        timed_out = threading.Event()

        timer = threading.Timer(timeout_s, lambda: (timed_out.set(), proc.kill()))
        timer.daemon = True
        timer.start()
        try:
            assert proc.stdout is not None
            for line in iter(lambda: proc.stdout.readline(LINE_READ), ""):  # a line without end: in pieces
                kept.add(line.encode())
                on_line(line.rstrip("\n"))
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        state_path = work / "cluster.rkestate"
        kube_path = work / "kube_config_cluster.yml"
        return RkeRun(None if timed_out.is_set() else code,
                      kept.value().decode("utf-8", "replace").removesuffix("\n"),
                      state_path.read_text() if state_path.exists() else None, timed_out.is_set(),
                      kube_path.read_text() if kube_path.exists() else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
