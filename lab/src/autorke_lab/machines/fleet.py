"""A fleet of lab machines: start them all, know when they are ready, end them all.

Start-up is parallel by nature: every machine is launched at once (one ``unshare`` each),
then the fleet polls the kernel's table of listening sockets (no probing connections,
which would cost an sshd fork each) until every sshd listens. Ending kills each machine's
own process tree (its PID 1 takes its whole PID namespace with it), then removes the
fleet's network namespaces.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from .addresses import machine_addresses, ssh_port_for, tcp_listeners
from .facts import facts_for, hostname_for
from .machine import Machine, MachineSpec
from .namespaces import (
    kill_namespaces,
    namespaces_usable,
    pid_alive,
    reap_orphaned_netns,
    wait_gone,
)
from .network import BastionNetwork

log = logging.getLogger("autorke_lab.machines")
PLAIN_MODE_MAX = 16


@dataclass
class FleetConfig:
    count: int = 24
    seed: int = 1
    address_base: str = "127.0.1.1"
    state_dir: Path = Path(".autorke/lab")
    bastion_inner: int = 0  # >0: a bastion and this many machines reachable only through it
    isolation: str = "auto"  # "auto" | "namespaces" | "plain"
    ready_timeout: float = 120.0
    owner_pid: int = field(default_factory=os.getpid)


class Fleet:
    def __init__(self, config: FleetConfig):
        self.config = config
        self.lab_dir = Path(config.state_dir)
        self.machines: list[Machine] = []
        self.by_name: dict[str, Machine] = {}
        self.ssh: dict = {}
        self.network: BastionNetwork | None = None
        self.namespaced = True
        self.notice = ""  # why the fleet is degraded, for people to read
        self.started_in: float = 0.0

    # -- start ----------------------------------------------------------------------------
    def start(self) -> None:
        t0 = time.monotonic()
        self._choose_isolation()
        reap_orphaned_netns()
        self.ssh = layout.prepare_lab_dir(self.lab_dir)
        try:
            specs = self._specs()
            for spec in specs:
                self._add(spec)
            for m in self.machines:
                m.launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0
        log.info("lab: %d machines ready in %.1f s", len(self.machines), self.started_in)

    def _choose_isolation(self) -> None:
        mode = self.config.isolation
        ok, why = namespaces_usable() if mode != "plain" else (False, "plain mode requested")
        if mode == "namespaces" and not ok:
            raise RuntimeError(f"lab machines need namespaces: {why}")
        self.namespaced = ok
        if not ok:
            count = min(self.config.count, PLAIN_MODE_MAX)
            self.notice = (
                f"lab: namespaces unavailable ({why}); starting {count} plain machines: "
                "each is an sshd on its own address and port, but they share the host's "
                "hostname and files (/etc, /var, /opt, /root), and there are no stand-ins, "
                "no bastion and no disk_full/slow_handshake faults. Run as root for the full lab.")
            log.warning(self.notice)

    def _specs(self) -> list[MachineSpec]:
        count = self.config.count if self.namespaced else min(self.config.count, PLAIN_MODE_MAX)
        specs = []
        for i, addr in enumerate(machine_addresses(self.config.address_base, count), start=1):
            port = ssh_port_for(addr, 22 if os.geteuid() == 0 else 2222)
            specs.append(MachineSpec(hostname_for(i), i, addr, port))
        if self.config.bastion_inner and self.namespaced:
            net = self.network = BastionNetwork(self.config.owner_pid, self.config.bastion_inner)
            net.create()
            idx = count + 1
            specs.append(MachineSpec("bastion01", idx, net.bastion_address, 22, role="bastion",
                                     netns=net.bastion_ns))
            for k in range(1, self.config.bastion_inner + 1):
                specs.append(MachineSpec(f"inner{k:03d}", idx + k, net.inner_address(k), 22,
                                         role="inner", netns=net.inner_ns(k), bastion="bastion01"))
        return specs

    def _add(self, spec: MachineSpec) -> Machine:
        facts = facts_for(self.config.seed, spec.index, spec.name)
        layout.prepare_machine(self.lab_dir, spec.name, spec.address, facts)
        m = Machine(spec, self.lab_dir, facts, owner_pid=self.config.owner_pid,
                    namespaced=self.namespaced)
        for stale in (m.dir / "faults").iterdir():
            stale.unlink()
        shutil.rmtree(m.dir / "full", ignore_errors=True)
        self.machines.append(m)
        self.by_name[m.name] = m
        return m

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.config.ready_timeout
        pending = list(self.machines)
        while pending:
            for m in pending:
                why = m.failed()
                if why:
                    raise RuntimeError(f"lab machine {m.name} failed to start: {why}")
            started = [m for m in pending if m.collect_sshd_pid()]
            host = tcp_listeners() if any(not m.spec.netns for m in started) else set()
            still = []
            for m in pending:
                if m not in started:
                    still.append(m)
                    continue
                table = host if not m.spec.netns else _netns_listeners(m.sshd_pid)
                if (m.spec.address, m.spec.port) not in table:
                    still.append(m)
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    names = ", ".join(m.name for m in pending[:10])
                    raise TimeoutError(f"lab machines not ready after {self.config.ready_timeout} s: {names}")
                time.sleep(0.05)

    # -- stop -----------------------------------------------------------------------------
    def stop(self) -> None:
        """End every process of every machine, then the fleet's network namespaces."""
        if self.namespaced:
            # Each machine by its own process tree; by namespace only where the keeper died
            # early and left no tree to walk (a namespace number can be reused, see kill_tree).
            killed = [m for m in self.machines if m.kill_tree()]
            orphaned = {m.mount_ns for m in self.machines if m not in killed and m.mount_ns}
            if orphaned:
                kill_namespaces(orphaned)
            for m in killed:  # PID 1 is done exiting once its namespace is empty
                if m.init_pid:
                    wait_gone(m.init_pid, timeout=10)
        else:
            for m in self.machines:
                _kill_tree(m.sshd_pid)
        for m in self.machines:
            m.reap_all()
        if self.network is not None:
            self.network.delete()
            self.network = None

    # -- reporting ------------------------------------------------------------------------
    def get(self, name: str) -> Machine:
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"no lab machine named {name!r}") from None

    def status(self) -> dict:
        bastion = next((m for m in self.machines if m.spec.role == "bastion"), None)
        return {
            "isolation": "namespaces" if self.namespaced else "plain",
            "notice": self.notice,
            "seed": self.config.seed,
            "state_dir": str(self.lab_dir.resolve()),
            "started_in_seconds": round(self.started_in, 3),
            "ssh": self.ssh,
            "machines": [m.to_status() for m in self.machines],
            "bastion": None if bastion is None else {
                "name": bastion.name, "address": bastion.spec.address, "port": bastion.spec.port,
                "host_key": bastion.host_key,
                "inner": [m.name for m in self.machines if m.spec.role == "inner"]},
        }


def _netns_listeners(pid: int | None) -> set:
    try:
        return tcp_listeners(f"/proc/{pid}/net/tcp")
    except OSError:
        return set()


def _kill_tree(pid: int | None) -> None:
    """Plain mode: a machine is its sshd and that sshd's descendants."""
    if not pid or not pid_alive(pid):
        return
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
            except (OSError, ValueError):
                pass
    todo, tree = [pid], []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    for p in tree:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
