"""One lab machine: its processes, its sshd, what it received, what it runs.

A namespaced machine is a keeper process (``machine-init`` in new UTS and mount
namespaces, and a network namespace in bastion mode) plus the machine's own PID namespace
under it (``machine-pid1`` is its PID 1), where the machine's sshd, sessions, units and
containers run. The sshd can be replaced without losing the machine (faults need other
sshd options): the new one is started with ``nsenter`` into PID 1's namespaces. A plain machine (no namespaces:
not root) is just an sshd sharing the host's files.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import layout
from .commandlog import CommandRecord, read_command_log
from .facts import MachineFacts
from .keys import read_public_key
from .namespaces import children_of, host_pid, host_pids, mount_ns_of, nspid, pid_alive, wait_gone
from .network import BASTION_INNER_IP


@dataclass(frozen=True)
class MachineSpec:
    name: str
    index: int  # 1-based; the facts come from (seed, index)
    address: str
    port: int
    role: str = "machine"  # "machine" | "bastion" | "inner" (reachable only through the bastion)
    netns: str | None = None
    bastion: str | None = None  # name of the bastion machine, for role "inner"


class Machine:
    def __init__(self, spec: MachineSpec, lab_dir: Path, facts: MachineFacts, *,
                 owner_pid: int, namespaced: bool):
        self.spec = spec
        self.name = spec.name
        self.lab_dir = lab_dir
        self.facts = facts
        self.owner_pid = owner_pid
        self.namespaced = namespaced
        self.dir = lab_dir / "machines" / spec.name
        self.keeper: subprocess.Popen | None = None
        self.sshd_pid: int | None = None
        self.mount_ns: str | None = None
        self.init_pid: int | None = None  # host PID of the machine's PID 1 (machine-pid1)
        self._children: list[subprocess.Popen] = []

    # -- files ---------------------------------------------------------------------------
    @property
    def host_key(self) -> str:
        """The machine's own host key (``"ssh-ed25519 AAAA…"``): what the CMDB publishes."""
        return read_public_key(self.dir / "hostkey.pub")

    @property
    def serving_host_key(self) -> str:
        """The key sshd serves right now (differs from host_key while the key is rotated)."""
        return read_public_key(self._host_key_path().with_name(self._host_key_path().name + ".pub"))

    def _host_key_path(self) -> Path:
        rotated = self.dir / "hostkey.rotated"
        return rotated if (self.dir / "faults" / "host_key_rotated").exists() else self.dir / "hostkey"

    @property
    def command_log_path(self) -> Path:
        return self.dir / "commands.log"

    def command_log(self) -> list[CommandRecord]:
        return read_command_log(self.command_log_path)

    def clear_command_log(self) -> None:
        self.command_log_path.write_bytes(b"")

    def faults(self) -> dict[str, str]:
        d = self.dir / "faults"
        return {p.name: p.read_text().strip() for p in sorted(d.iterdir())} if d.exists() else {}

    def units(self) -> list[dict]:
        """Units started by the machine's systemctl, with the (host) PID the lab kills at the end.

        The pid files hold the machine's own numbering (its PID namespace); a unit whose
        number no live process of this machine has is inactive."""
        out = []
        state = self.dir / "ov" / "var.u" / "lib" / "autorke-lab" / "units"
        pid_files = sorted(state.glob("*.service.pid")) if state.exists() else []
        mapping = host_pids(self.mount_ns) if pid_files and self.namespaced and self.mount_ns else {}
        for pid_file in pid_files:
            try:
                pid = int(pid_file.read_text())
            except (OSError, ValueError):
                continue
            if self.namespaced:
                host = mapping.get(pid)
                out.append({"name": pid_file.name[:-4], "pid": host,
                            "active": host is not None and pid_alive(host)})
            else:
                out.append({"name": pid_file.name[:-4], "pid": pid,
                            "active": pid_alive(pid) and mount_ns_of(pid) == self.mount_ns})
        return out

    # -- processes ----------------------------------------------------------------------
    def sshd_argv(self) -> list[str]:
        faults = self.faults()
        extra: list[str] = []
        if "slow_handshake" in faults:
            keys = self.lab_dir.resolve() / "authorized_keys"
            extra += ["-o", f"AuthorizedKeysCommand={layout.SLOW_AUTH} {float(faults['slow_handshake'])} {keys}",
                      "-o", "AuthorizedKeysCommandUser=root", "-o", "AuthorizedKeysFile=none"]
        if self.spec.role == "inner":
            extra += ["-o", f"AllowUsers=root@{BASTION_INNER_IP}"]
        return layout.sshd_argv(self.lab_dir, self.dir, self.spec.address, self.spec.port,
                                host_key=self._host_key_path(), namespaced=self.namespaced,
                                extra=extra)

    def launch(self) -> None:
        """Start the machine (does not wait: see ``collect_sshd_pid``)."""
        (self.dir / "sshd.pid").unlink(missing_ok=True)
        if self.namespaced:
            argv = layout.init_argv(self.lab_dir, self.dir, self.name, self.owner_pid, self.sshd_argv())
            if self.spec.netns:
                argv = ["nsenter", f"--net=/run/netns/{self.spec.netns}", *argv]
        else:
            argv = self.sshd_argv()
        with open(self.dir / "init.log", "ab") as log:
            self.keeper = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           start_new_session=True, close_fds=True)
        if not self.namespaced:
            self.sshd_pid = self.keeper.pid

    def collect_sshd_pid(self) -> bool:
        """True once the machine's namespaces are set up and its sshd has started."""
        if self.sshd_pid is not None:
            return True
        try:
            inner = int((self.dir / "sshd.pid").read_text())
        except (OSError, ValueError):
            return False
        if self.init_pid is None:
            self.init_pid = next((p for p in _descendants(self.keeper.pid, depth=2)
                                  if nspid(p)[1:] == [1]), None)
        sshd = host_pid(self.init_pid, inner) if self.init_pid else None
        if sshd is None:
            return False
        self.sshd_pid = sshd
        self.mount_ns = mount_ns_of(self.keeper.pid)
        return True

    def failed(self) -> str | None:
        """Why the machine died while starting, or None while it lives."""
        if self.keeper is not None and self.keeper.poll() is not None:
            return (self.dir / "init.log").read_text(errors="replace")[-2000:] or "exited"
        return None

    def restart_sshd(self) -> None:
        """Replace the listening sshd (faults change its options); none while unreachable."""
        self.stop_sshd()
        if "unreachable" in self.faults():
            return
        if self.namespaced:
            # -p: nsenter forks, so the sshd (its child) is in the machine's PID namespace.
            argv = ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-p",
                    *(["-n"] if self.spec.netns else []), "--", *self.sshd_argv()]
        else:
            argv = self.sshd_argv()
        with open(self.dir / "init.log", "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, close_fds=True)
        self._children.append(proc)
        if self.namespaced:
            self.sshd_pid = _first_child(proc)
        else:
            self.sshd_pid = proc.pid
            self.keeper = proc
        self.wait_listening()

    def stop_sshd(self) -> None:
        if self.sshd_pid and pid_alive(self.sshd_pid):
            os.kill(self.sshd_pid, signal.SIGTERM)
            wait_gone(self.sshd_pid)
        self.sshd_pid = None
        self._reap()

    def wait_listening(self, timeout: float = 10.0) -> None:
        from .addresses import tcp_listeners

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            table = f"/proc/{self.sshd_pid}/net/tcp"
            try:
                if (self.spec.address, self.spec.port) in tcp_listeners(table):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"{self.name}: sshd not listening on {self.spec.address}:{self.spec.port}")

    def exec_in(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        """Run a host-side helper inside this machine (faults use it). It joins the PID
        namespace too: the machine's /proc only knows the machine's processes, and tools
        such as umount read /proc/self."""
        if not self.namespaced:
            raise RuntimeError(f"{self.name} has no namespaces (plain mode)")
        return subprocess.run(["nsenter", "-t", str(self.init_pid), "-m", "-u", "-p", "--", *argv],
                              capture_output=True, text=True, check=check)

    def _reap(self) -> None:
        for proc in list(self._children):
            if proc.poll() is not None:
                self._children.remove(proc)

    def kill_tree(self) -> bool:
        """End this machine by its own processes: SIGKILL its PID 1 (the kernel then kills
        everything in the machine's PID namespace), the keeper's other descendants and the
        keeper. Found from the keeper, our own unreaped child, never by namespace number:
        the kernel hands a freed namespace number to the next namespace made, which may be
        another lab's machine. False when the keeper was already gone (nothing to walk)."""
        if self.keeper is None or self.keeper.poll() is not None:
            return False
        tree = _descendants(self.keeper.pid, depth=64)
        inits = [p for p in tree if p == self.init_pid or nspid(p)[1:] == [1]]
        for pid in inits + [p for p in tree if p not in inits]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.keeper.kill()
        return True

    def reap_all(self) -> None:
        """Collect exit statuses of our direct children after the fleet killed them."""
        for proc in [self.keeper, *self._children]:
            if proc is not None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._children.clear()

    # -- reporting ------------------------------------------------------------------------
    def to_status(self) -> dict:
        return {
            "name": self.name, "hostname": self.name, "index": self.spec.index,
            "address": self.spec.address, "port": self.spec.port, "role": self.spec.role,
            "bastion": self.spec.bastion, "netns": self.spec.netns,
            "host_key": self.host_key, "serving_host_key": self.serving_host_key,
            "pid": self.keeper.pid if self.keeper else None, "sshd_pid": self.sshd_pid,
            "state_dir": str(self.dir.resolve()),
            "command_log": str(self.command_log_path.resolve()),
            "faults": self.faults(),
        }


def _descendants(pid: int, depth: int) -> list[int]:
    """Children, grandchildren… of ``pid`` down to ``depth`` levels."""
    out, level = [], [pid]
    for _ in range(depth):
        level = [c for p in level for c in children_of(p)]
        out += level
    return out


def _first_child(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """The process ``nsenter -p`` forked (the command itself, in the machine's PID namespace)."""
    deadline = time.monotonic() + timeout
    while not (children := children_of(proc.pid)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"nsenter (pid {proc.pid}) started no command (exit {proc.poll()})")
        time.sleep(0.005)
    return children[0]
