"""Namespaces the lab creates, and ending everything in them.

A machine is a set of processes sharing one mount namespace (its sshd, its sessions,
units started by its ``systemctl``, its ``docker`` containers, hung commands). The lab
records each machine's mount-namespace inode at start and, at the end, kills exactly the
processes in those namespaces: never by name, so other engineers' and the system's sshd
are safe. A machine also has its own PID namespace (so ``ps`` on it sees its processes
only): PIDs it writes down (sshd.pid, units' pid files) are its own numbers, which the lab
maps to the host's with ``host_pid``/``host_pids`` (``NSpid`` in /proc/PID/status). Network
namespaces (bastion mode) are named ``autorke-lab-<owner pid>-…`` so a later lab can remove
the ones whose owner died without touching anybody else's.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections import defaultdict

NETNS_PREFIX = "autorke-lab-"
_NETNS_RE = re.compile(r"^autorke-lab-(\d+)-")


def mount_ns_of(pid: int) -> str | None:
    """``"mnt:[4026532…]"`` for a live process, None when it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def processes_by_mount_ns() -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            ns = mount_ns_of(int(entry.name))
            if ns:
                out[ns].append(int(entry.name))
    return out


def kill_namespaces(namespaces: set[str], timeout: float = 5.0) -> int:
    """SIGKILL every process in these mount namespaces (never the host's); wait until gone."""
    host_ns = mount_ns_of(1)
    namespaces = {ns for ns in namespaces if ns and ns != host_ns and ns != mount_ns_of(os.getpid())}
    killed = 0
    deadline = time.monotonic() + timeout
    while namespaces:
        pids = [p for ns, ps in processes_by_mount_ns().items() if ns in namespaces for p in ps]
        live = [p for p in pids if not _is_zombie(p)]
        if not live:
            break
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        # After the kill, not before: on a loaded host one /proc scan can outlast the
        # deadline, and breaking before any kill left whole machines running.
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return killed


def processes_in(ns: str, argv0_prefix: bytes | None = None) -> list[int]:
    out = []
    for pid in processes_by_mount_ns().get(ns, []):
        if argv0_prefix is not None:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if not f.read().startswith(argv0_prefix):
                        continue
            except OSError:
                continue
        out.append(pid)
    return out


def children_of(pid: int) -> list[int]:
    """Direct children of a process (every thread's), from /proc/PID/task/*/children."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def nspid(pid: int) -> list[int]:
    """A process's PID in each PID namespace it is in, the host's first (NSpid); [] if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(p) for p in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


def host_pid(root: int, inner_pid: int) -> int | None:
    """The host's PID of the process a nested PID namespace numbers ``inner_pid``, searched
    among ``root`` and its descendants (a machine's tree: cheap, no whole-/proc scan)."""
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        ids = nspid(pid)
        if len(ids) > 1 and ids[-1] == inner_pid:
            return pid
        todo += children_of(pid)
    return None


def host_pids(mount_ns: str) -> dict[int, int]:
    """{PID as the machine numbers it: host PID} for every process of a machine."""
    out = {}
    for pid in processes_by_mount_ns().get(mount_ns, []):
        ids = nspid(pid)
        if len(ids) > 1:
            out[ids[-1]] = pid
    return out


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def pid_alive(pid: int) -> bool:
    return pid > 0 and not _is_zombie(pid)


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def ip(*args: str) -> None:
    """Run ``ip ARGS`` (argv list, never a shell string); raise with ip's message on failure."""
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def netns_names() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    return [int(p) for p in proc.stdout.split()]


def delete_netns(name: str) -> None:
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def reap_orphaned_netns() -> list[str]:
    """Delete lab network namespaces whose owner process is dead (a lab that was killed)."""
    removed = []
    for name in netns_names():
        m = _NETNS_RE.match(name)
        if m and not pid_alive(int(m.group(1))):
            delete_netns(name)
            removed.append(name)
    return removed


def namespaces_usable() -> tuple[bool, str]:
    """Whether this process may create the lab's namespaces, and why not."""
    if os.geteuid() != 0:
        return False, "not running as root"
    proc = subprocess.run(["unshare", "--uts", "--mount", "true"], capture_output=True, text=True, check=False)
    if proc.returncode:
        return False, f"unshare --uts --mount failed: {proc.stderr.strip()}"
    return True, ""
