"""Ports for a whole platform started by a test (``autorke up --port-offset``): an offset
at which every default port, and the lab's Kubernetes API ports after the first, is free."""
from __future__ import annotations

import random
import socket

from autorke_common.platform_env import DEFAULT_PORTS


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset() -> int:
    for _ in range(50):
        offset = random.randrange(10_000, 50_000, 100)
        ports = [p + offset for p in DEFAULT_PORTS.values()]
        ports += [DEFAULT_PORTS["kube"] + offset + i for i in range(1, 4)]
        if all(port_free(p) for p in ports):
            return offset
    raise RuntimeError("no free port offset")
