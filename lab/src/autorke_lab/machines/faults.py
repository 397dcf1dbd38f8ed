"""Faults a lab machine can be given, each doing what its name says, observable over SSH.

=================  ==========================================================================
kind               effect (params)
=================  ==========================================================================
unreachable        its sshd is stopped: connections are refused
slow_handshake     authentication waits ``seconds`` (default 5) before the key is accepted
                   (sshd's AuthorizedKeysCommand sleeps), so the handshake takes that long
hang               every command is recorded, then never answers (no output, no exit status)
command_fails      every command prints ``message`` on stderr and exits ``exit_code`` (1)
disk_full          /etc, /var, /opt and /root of the machine are full: writes fail with ENOSPC,
                   ``df`` shows 100 % (a full 1 MB tmpfs overlaid on them)
host_key_rotated   sshd serves a new host key; the CMDB keeps the old one, so they differ
clock_skew         the clock of every command is ``seconds`` (default 3600, may be negative)
                   off (libfaketime preloaded by the session wrapper)
=================  ==========================================================================

Each active fault is a file in the machine's ``faults/`` dir (read by the session wrapper
for the command faults); clearing removes it and undoes the effect.
"""
from __future__ import annotations

import os
import signal

from .keys import write_key_pair
from .machine import Machine
from .namespaces import processes_in

KINDS = ("unreachable", "slow_handshake", "hang", "command_fails", "disk_full",
         "host_key_rotated", "clock_skew")
_SSHD_FAULTS = {"unreachable", "slow_handshake", "host_key_rotated"}
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

_DISK_FULL_ON = r"""
set -e
M=$1; F=$M/full
mkdir -p "$F"
mount -t tmpfs -o size=1m,nr_inodes=64,mode=755 autorke-lab-disk-full "$F"
for d in etc var opt root; do
  mkdir "$F/$d.u" "$F/$d.w"
  mount -t overlay autorke-lab-disk-full -o "lowerdir=/$d,upperdir=$F/$d.u,workdir=$F/$d.w" "/$d"
done
dd if=/dev/zero of="$F/fill" bs=64k 2>/dev/null || true
"""
_DISK_FULL_OFF = r"""
M=$1
for d in root opt var etc; do umount -l "/$d"; done
umount -l "$M/full"
"""


class FaultError(ValueError):
    """A fault that does not exist or cannot be applied here (the message says why)."""


def _params_text(kind: str, params: dict) -> str:
    if kind == "slow_handshake":
        return str(float(params.get("seconds", 5)))
    if kind == "command_fails":
        code = int(params.get("exit_code", 1))
        message = str(params.get("message", "simulated failure")).replace("\n", " ")
        return f"{code} {message}"
    if kind == "clock_skew":
        seconds = int(params.get("seconds", 3600))
        return f"{seconds:+d}"
    return ""


def set_fault(machine: Machine, kind: str, params: dict | None = None) -> dict[str, str]:
    """Give ``machine`` the fault ``kind`` (replacing the same kind); returns its faults."""
    if kind not in KINDS:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    params = params or {}
    if not machine.namespaced and kind in ("disk_full", "slow_handshake"):
        raise FaultError(f"fault {kind} needs the machine's own namespaces (lab runs in plain mode)")
    if kind == "clock_skew" and not os.path.exists(LIBFAKETIME):
        raise FaultError("fault clock_skew needs libfaketime (Debian package libfaketime; "
                         "run deploy/setup-system.sh)")
    path = machine.dir / "faults" / kind
    if kind in machine.faults():
        clear_fault(machine, kind)
    if kind == "host_key_rotated":
        write_key_pair(machine.dir / "hostkey.rotated", f"root@{machine.name}")
    if kind == "disk_full":
        result = machine.exec_in(["sh", "-c", _DISK_FULL_ON, "disk-full", str(machine.dir.resolve())],
                                 check=False)
        if result.returncode:
            raise FaultError(f"disk_full on {machine.name}: {result.stderr.strip()}")
    path.write_text(_params_text(kind, params) + "\n")
    if kind in _SSHD_FAULTS:
        machine.restart_sshd()
    return machine.faults()


def clear_fault(machine: Machine, kind: str) -> dict[str, str]:
    """Undo fault ``kind`` on ``machine`` (no-op when it does not have it)."""
    if kind not in KINDS:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    path = machine.dir / "faults" / kind
    if not path.exists():
        return machine.faults()
    path.unlink()
    if kind == "disk_full":
        machine.exec_in(["sh", "-c", _DISK_FULL_OFF, "disk-full", str(machine.dir.resolve())],
                        check=False)
    if kind == "hang" and machine.mount_ns:
        for pid in processes_in(machine.mount_ns, b"autorke-lab-hang"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if kind in _SSHD_FAULTS:
        machine.restart_sshd()
    return machine.faults()


def clear_all(machine: Machine) -> None:
    for kind in list(machine.faults()):
        clear_fault(machine, kind)
