"""Bastion mode: machines reachable only through one bastion machine.

::

    host ns                 bastion netns                    inner netns (one per machine)
    alab<tag> 10.77.K.1/30 ─ eth0 10.77.K.2/30
                             br0  10.77.200.1/24 ─ v<i> ──── eth0 10.77.200.<10+i>/24

The host reaches the bastion at 10.77.K.2 (K picked so that no host address clashes);
the inner machines' network exists only inside the bastion's namespace, so the only way
to them is an SSH jump (direct-tcpip) through the bastion, and their sshd also accepts
root only from 10.77.200.1. All namespaces are named ``autorke-lab-<owner pid>-<tag>-…``.
"""
from __future__ import annotations

import random
import secrets
import subprocess
from dataclasses import dataclass, field

from .namespaces import NETNS_PREFIX, delete_netns, ip

INNER_NET = "10.77.200"
BASTION_INNER_IP = f"{INNER_NET}.1"


@dataclass
class BastionNetwork:
    owner_pid: int
    inner_count: int
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    link: int = 0
    created: list[str] = field(default_factory=list)

    @property
    def bastion_ns(self) -> str:
        return f"{NETNS_PREFIX}{self.owner_pid}-{self.tag}-bastion"

    def inner_ns(self, i: int) -> str:
        return f"{NETNS_PREFIX}{self.owner_pid}-{self.tag}-inner{i}"

    @property
    def bastion_address(self) -> str:
        return f"10.77.{self.link}.2"

    def inner_address(self, i: int) -> str:
        return f"{INNER_NET}.{10 + i}"

    @property
    def host_link(self) -> str:
        return f"alab{self.tag}"

    def create(self) -> None:
        self.link = _free_link_octet()
        b = self.bastion_ns
        try:
            self._add_ns(b)
            ip("link", "add", self.host_link, "type", "veth", "peer", "name", "eth0", "netns", b)
            ip("addr", "add", f"10.77.{self.link}.1/30", "dev", self.host_link)
            ip("link", "set", self.host_link, "up")
            ip("-n", b, "addr", "add", f"{self.bastion_address}/30", "dev", "eth0")
            ip("-n", b, "link", "set", "eth0", "up")
            ip("-n", b, "link", "add", "br0", "type", "bridge")
            ip("-n", b, "addr", "add", f"{BASTION_INNER_IP}/24", "dev", "br0")
            ip("-n", b, "link", "set", "br0", "up")
            for i in range(1, self.inner_count + 1):
                ns = self.inner_ns(i)
                self._add_ns(ns)
                ip("-n", b, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0",
                   "netns", ns)
                ip("-n", b, "link", "set", f"v{i}", "master", "br0", "up")
                ip("-n", ns, "addr", "add", f"{self.inner_address(i)}/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
        except Exception:
            self.delete()
            raise

    def _add_ns(self, name: str) -> None:
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def delete(self) -> None:
        for name in reversed(self.created):
            delete_netns(name)
        self.created.clear()
        subprocess.run(["ip", "link", "delete", self.host_link], capture_output=True, check=False)


def _free_link_octet() -> int:
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
    choices = list(range(1, 200))
    random.shuffle(choices)
    for k in choices:
        if f" 10.77.{k}." not in used:
            return k
    raise RuntimeError("no free 10.77.K.0/30 for the bastion link")
