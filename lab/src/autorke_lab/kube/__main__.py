"""Serve lab clusters' Kubernetes APIs from the command line, outside the lab runtime.

    python -m autorke_lab.kube --state-dir .lab --cluster rke2-lab --cluster rke1-lab \\
        [--base-port 6443] [--hollow-nodes 1000] [--node-grace-seconds 40]

Prints one JSON line (the fleet's status: URLs and kubeconfig paths) once every API
answers, then serves until SIGTERM or SIGINT.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from .fleet import DEFAULT_BASE_PORT, KubeFleet


async def serve(args: argparse.Namespace) -> None:
    fleet = KubeFleet.for_clusters(
        args.cluster or ["rke2-lab", "rke1-lab"], Path(args.state_dir), host=args.host,
        base_port=args.base_port, node_grace_seconds=args.node_grace_seconds,
        hollow_nodes=args.hollow_nodes, hollow_pods_per_node=args.hollow_pods_per_node,
        seed_workloads=not args.no_workloads)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await fleet.start()
    print(json.dumps(fleet.status()), flush=True)
    try:
        await stop.wait()
    finally:
        await fleet.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m autorke_lab.kube")
    parser.add_argument("--state-dir", default=".lab")
    parser.add_argument("--cluster", action="append")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT,
                        help="first cluster's port; 0 picks free ports")
    parser.add_argument("--hollow-nodes", type=int, default=0)
    parser.add_argument("--hollow-pods-per-node", type=int, default=0)
    parser.add_argument("--node-grace-seconds", type=float, default=40.0)
    parser.add_argument("--no-workloads", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
