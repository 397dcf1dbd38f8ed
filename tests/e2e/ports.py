"""Ports for a whole platform started by a test (``autorke up --port-offset``): an offset
at which every default port, and the lab's Kubernetes API ports after the first, is free;
with ``replicas`` and ``nats_nodes`` also every replica's port and every NATS node's
client, route and monitoring port (:mod:`autorke_common.platform_env`)."""
from __future__ import annotations

import random
import socket

from autorke_common.platform_env import DEFAULT_PORTS, nats_nodes, replica_port

SERVICES = ("console", "inventory", "orchestrator", "executor", "netcfg")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset(replicas: int = 1, nats: int = 1) -> int:
    for _ in range(50):
        # below the ephemeral range (32768-60999): an outgoing connection never holds one of these
        offset = random.randrange(10_000, 24_000, 100)
        ports = [p + offset for p in DEFAULT_PORTS.values()]
        ports += [DEFAULT_PORTS["kube"] + offset + i for i in range(1, 4)]
        ports += [replica_port(DEFAULT_PORTS[s] + offset, i) for s in SERVICES for i in range(1, replicas)]
        if nats > 1:
            for node in nats_nodes(DEFAULT_PORTS["nats"] + offset, nats):
                ports += [node.client_port, node.route_port, node.monitor_port]
        if all(port_free(p) for p in ports):
            return offset
    raise RuntimeError("no free port offset")
