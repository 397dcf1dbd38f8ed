"""A simulated kubelet: the node agent a provisioner starts on a lab machine.

It registers its Node with the cluster's API server (labels, taints, capacity including
``nvidia.com/gpu``, addresses, nodeInfo and a Ready condition), then heartbeats: every
``--heartbeat-interval`` seconds it reads its Node and patches ``/status`` with fresh
``lastHeartbeatTime`` values, as the real kubelet's node status loop does. If its Node was
deleted it registers it again. Stopped (SIGTERM/SIGINT) it simply stops posting, so the
API server's node lifecycle controller marks the Node NotReady (Ready=Unknown) after the
grace period; like the real kubelet it never deletes its own Node. Labels and taints apply
at registration only (as RKE2's ``node-label``/``node-taint``).

Usage::

    python -m autorke_lab.kube.kubelet --kubeconfig /etc/rancher/rke2/kubelet.kubeconfig \\
        --node-name m001 [--address 127.0.1.1] \\
        [--labels node-role.kubernetes.io/worker=true,rack=r1] \\
        [--taints dedicated=gpu:NoSchedule,maintenance:NoExecute] \\
        [--capacity cpu=32,memory=128Gi,pods=110,nvidia.com/gpu=8] \\
        [--kubelet-version v1.30.4+rke2r1] [--heartbeat-interval 10] [--context NAME]

``--capacity`` entries override the defaults (cpu 16, memory 65536Mi, pods 110). Exit
codes: 0 after a signal, 2 for bad arguments. Logs go to stderr; one line
``registered <node>`` goes to stdout once the Node exists.
"""
from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

from .nodes import (
    DEFAULT_KUBELET_VERSION,
    healthy_conditions,
    node_object,
    parse_capacity,
    parse_labels,
    parse_taints,
)
from .patch import STRATEGIC
from .pki import read_kubeconfig
from .store import now_rfc3339

log = logging.getLogger("autorke_lab.kubelet")


class Kubelet:
    def __init__(self, http: httpx.Client, node: dict[str, Any], interval: float) -> None:
        self.http = http
        self.node = node
        self.name = node["metadata"]["name"]
        self.interval = interval
        self.stopping = threading.Event()

    def register(self) -> None:
        delay = 0.2
        while not self.stopping.is_set():
            try:
                body = dict(self.node, status=dict(self.node["status"],
                                                   conditions=healthy_conditions(now_rfc3339())))
                response = self.http.post("/api/v1/nodes", json=body)
                if response.status_code in (201, 409):
                    log.info("node %s %s", self.name,
                             "registered" if response.status_code == 201 else "already exists")
                    return
                log.warning("registering %s: %s %s", self.name, response.status_code,
                            response.text[:200])
            except httpx.HTTPError as exc:
                log.warning("registering %s: %s", self.name, exc)
            self.stopping.wait(delay)
            delay = min(delay * 2, 5.0)

    def heartbeat(self) -> None:
        response = self.http.get(f"/api/v1/nodes/{self.name}")
        if response.status_code == 404:
            log.warning("node %s was deleted; registering it again", self.name)
            self.register()
            return
        response.raise_for_status()
        now = now_rfc3339()
        previous = {c["type"]: c for c in response.json().get("status", {}).get("conditions", [])}
        conditions = healthy_conditions(now)
        for cond in conditions:
            old = previous.get(cond["type"])
            if old and old.get("status") == cond["status"]:
                cond["lastTransitionTime"] = old.get("lastTransitionTime", now)
        patch = self.http.patch(f"/api/v1/nodes/{self.name}/status",
                                json={"status": {"conditions": conditions}},
                                headers={"Content-Type": STRATEGIC})
        patch.raise_for_status()

    def run(self) -> None:
        self.register()
        if not self.stopping.is_set():
            print(f"registered {self.name}", flush=True)
        while not self.stopping.wait(self.interval):
            try:
                self.heartbeat()
            except httpx.HTTPError as exc:
                log.warning("heartbeat of %s failed: %s", self.name, exc)


def _client(kubeconfig: Path, context: str | None) -> httpx.Client:
    server, ca_pem, token = read_kubeconfig(kubeconfig.read_text(), context)
    tls = ssl.create_default_context(cadata=ca_pem.decode())
    return httpx.Client(base_url=server, verify=tls, timeout=10.0,
                        headers={"Authorization": f"Bearer {token}"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autorke_lab.kube.kubelet",
                                     description="Simulated kubelet of a lab machine.")
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--context")
    parser.add_argument("--node-name", required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--labels", default="")
    parser.add_argument("--taints", default="")
    parser.add_argument("--capacity", default="")
    parser.add_argument("--kubelet-version", default=DEFAULT_KUBELET_VERSION)
    parser.add_argument("--heartbeat-interval", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s kubelet[%(process)d] %(message)s")
    try:
        node = node_object(args.node_name, now=now_rfc3339(), labels=parse_labels(args.labels),
                           taints=parse_taints(args.taints),
                           capacity=parse_capacity(args.capacity), address=args.address,
                           kubelet_version=args.kubelet_version)
    except ValueError as exc:
        parser.error(str(exc))
    with _client(args.kubeconfig, args.context) as http:
        kubelet = Kubelet(http, node, args.heartbeat_interval)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: kubelet.stopping.set())
        kubelet.run()
    log.info("kubelet of %s stopped", args.node_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
