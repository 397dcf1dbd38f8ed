"""Where lab machines listen.

All of 127.0.0.0/8 is loopback on Linux, so each machine gets its own 127.A.B.C address
on port 22 with no set-up at all. A fleet starts at a base address and counts up, skipping
the .0 and .255 of each /24 so that addresses look ordinary. When something already holds
port 22 on the wildcard address, a machine falls back to another port (recorded per
machine: the port is part of its inventory record anyway). Concurrent test sessions each
lease a random 127.R.S.0/24 with a lock file, so they never share an address.
"""
from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import random
import socket
from dataclasses import dataclass
from pathlib import Path

LEASE_DIR = Path("/tmp/autorke-lab-ranges")


def machine_addresses(base: str, count: int) -> list[str]:
    """``count`` addresses from ``base`` upwards, skipping .0 and .255."""
    out: list[str] = []
    current = int(ipaddress.IPv4Address(base))
    while len(out) < count:
        last = current & 0xFF
        if last not in (0, 255):
            out.append(str(ipaddress.IPv4Address(current)))
        current += 1
    return out


def can_bind(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def free_port(address: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def ssh_port_for(address: str, preferred: int = 22) -> int:
    """``preferred`` when this address can take it, else a free high port."""
    if can_bind(address, preferred):
        return preferred
    return free_port(address)


@dataclass
class RangeLease:
    """A 127.R.S.0/24 held by this process (an flock on a file) until released."""

    base: str
    _fd: int

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def lease_free_range(rng: random.Random | None = None, attempts: int = 200) -> RangeLease:
    """Lease a random 127.R.S.0/24 (R in 100..250) that no other lab uses and whose port 22 is free."""
    rng = rng or random.Random()
    LEASE_DIR.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        r, s = rng.randint(100, 250), rng.randint(1, 254)
        fd = os.open(LEASE_DIR / f"127.{r}.{s}.lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if can_bind(f"127.{r}.{s}.1", 22) and can_bind(f"127.{r}.{s}.254", 22):
            return RangeLease(f"127.{r}.{s}.1", fd)
        os.close(fd)
    raise RuntimeError("no free 127.R.S.0/24 range found for lab machines")


def tcp_listeners(proc_net_tcp: str = "/proc/net/tcp") -> set[tuple[str, int]]:
    """(address, port) of every IPv4 socket in LISTEN state, from a /proc/…/net/tcp file."""
    out: set[tuple[str, int]] = set()
    with open(proc_net_tcp) as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] != "0A":
                continue
            addr_hex, port_hex = fields[1].split(":")
            addr = socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1])
            out.add((addr, int(port_hex, 16)))
    return out
