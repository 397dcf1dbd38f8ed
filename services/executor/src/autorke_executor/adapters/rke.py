"""Running the RKE1 ``rke`` binary for one cluster: cluster.yml and cluster.rkestate go
into a private directory (0700, files 0600) of the executor's own work root, the binary
runs there with a minimal environment (``PATH``, ``HOME``, ``LANG``; ``TMPDIR`` the run's
directory: never the executor's secret key, database URL or NATS credentials) and its
output streamed line by line (and kept as its head and tail, like a machine's: an rke run
that prints for half an hour costs bounded memory), the new rkestate is read back, and the
directory is removed whatever happens (it holds every private key of the cluster).

A run killed with the executor (SIGKILL, OOM) leaves its directory behind: the work root
(``<data dir>/rke``, 0700) is wiped of every run whose process is gone when the executor
starts, and of its own runs when it exits."""
from __future__ import annotations

import atexit
import os
import shutil
import signal
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


class RkeWorkspace:
    """The executor's work root for rke runs: one directory per run, named after the
    process that made it (``run-<pid>-<random>``), so a start wipes what dead processes
    left and never a run of a live one (several executors in one test process share it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root, 0o700)
        self.wipe(lambda pid: not _alive(pid))
        atexit.register(self.wipe, lambda pid: pid == os.getpid())

    def wipe(self, whose: Callable[[int], bool]) -> None:
        """Remove every run directory whose process ``whose`` says (and anything else found)."""
        for entry in self.root.iterdir() if self.root.exists() else ():
            pid = _pid_of(entry.name)
            if pid is None or whose(pid):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def run(self, binary: str, action: str, cluster_yml: str, rkestate: str | None, timeout_s: float,
            on_line: Callable[[str], None], snapshot_name: str | None = None,
            extra_args: list[str] | None = None) -> RkeRun:
        return run_rke(binary, action, cluster_yml, rkestate, timeout_s, on_line, snapshot_name, extra_args,
                       work_root=self.root)


def _pid_of(name: str) -> int | None:
    parts = name.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "run" and parts[1].isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def minimal_environment(work: Path) -> dict[str, str]:
    """What rke is given of the executor's environment: nothing secret."""
    return {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/nonexistent"), "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TMPDIR": str(work)}


def run_rke(binary: str, action: str, cluster_yml: str, rkestate: str | None, timeout_s: float,
            on_line: Callable[[str], None], snapshot_name: str | None = None,
            extra_args: list[str] | None = None, *, work_root: Path) -> RkeRun:
    argv = [binary, *ARGS[action], "--config", "cluster.yml"]
    if action in ("snapshot_save", "snapshot_restore") and snapshot_name:
        argv += ["--name", snapshot_name]
    argv += list(extra_args or [])
    work = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=work_root))  # 0700 by mkdtemp
    try:
        os.chmod(work, 0o700)
        _write_private(work / "cluster.yml", cluster_yml)
        if rkestate:
            _write_private(work / "cluster.rkestate", rkestate)
        proc = subprocess.Popen(argv, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                env=minimal_environment(work))
        kept = HeadTail()
        timed_out = threading.Event()

        timer = threading.Timer(timeout_s, lambda: (timed_out.set(), _kill_group(proc)))
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
                _kill_group(proc)  # what it started too (L6)
                proc.wait()
        state_path = work / "cluster.rkestate"
        kube_path = work / "kube_config_cluster.yml"
        return RkeRun(None if timed_out.is_set() else code,
                      kept.value().decode("utf-8", "replace").removesuffix("\n"),
                      state_path.read_text() if state_path.exists() else None, timed_out.is_set(),
                      kube_path.read_text() if kube_path.exists() else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL rke's whole process group (its own session: ``start_new_session``), not only
    rke: a child that keeps the output pipe open would otherwise hold the run past its
    deadline (L6)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
