"""How much checking an IP pool costs netcfg (DESIGN.md P7), as the pools and IPAM blocks
of a cluster grow: the pure rules (``check_create`` against N pools and M blocks) and the
read of the cluster's state they need (``ippools`` + ``ipamblocks`` listed with the
official client over HTTPS from a lab Kubernetes API). Writes its section of
bench/RESULTS.md.

    uv run --no-sync python bench/netcfg_pools.py [--pools 100 1000] [--blocks 1000 10000]
"""
from __future__ import annotations

import argparse
import ipaddress
import statistics
import tempfile
import time
from pathlib import Path

from _results import write_section  # bench/ is on sys.path when a script runs
from kubernetes import client, config

from autorke_lab.kube.background import ClusterThread
from autorke_lab.kube.cluster import KubeClusterSettings
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.domain import pool_rules as rules
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool
from autorke_netcfg.service_layer.cluster_state import read_state

BEGIN, END = "<!-- netcfg_pools:begin -->", "<!-- netcfg_pools:end -->"
G, V = "crd.projectcalico.org", "v1"
NETS = ClusterNetworks("bench", ("192.168.0.0/16",), "10.96.0.0/12", None)


def pools_and_blocks(n_pools: int, n_blocks: int) -> tuple[list[Pool], list[Block]]:
    space = ipaddress.ip_network("100.64.0.0/10")
    subnets = space.subnets(new_prefix=24)
    pools = [Pool(f"p{i}", str(next(subnets)), 26) for i in range(n_pools)]
    blocks = [Block(str(b), i % 64) for i, b in zip(range(n_blocks),
                                                    ipaddress.ip_network("100.64.0.0/12").subnets(new_prefix=26))]
    return pools, blocks


def time_rules(pools: list[Pool], blocks: list[Block], repeat: int = 50) -> float:
    new = rules.normalise("new", {"cidr": "172.16.0.0/16"})
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        rules.check_create(new, NETS, pools, blocks)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def time_read(n_pools: int, n_blocks: int, runs: int = 5) -> float:
    thread = ClusterThread()
    with tempfile.TemporaryDirectory() as state:
        cluster = thread.start_cluster(KubeClusterSettings(name="bench", state_dir=Path(state),
                                                           seed_workloads=False))
        api = config.new_client_from_config_dict(cluster.kubeconfig)
        co = client.CustomObjectsApi(api)
        pools, blocks = pools_and_blocks(n_pools, n_blocks)
        for p in pools:
            co.create_cluster_custom_object(G, V, "ippools", {
                "apiVersion": f"{G}/{V}", "kind": "IPPool", "metadata": {"name": p.name},
                "spec": p.spec()})
        for i, b in enumerate(blocks):
            co.create_cluster_custom_object(G, V, "ipamblocks", {
                "apiVersion": f"{G}/{V}", "kind": "IPAMBlock", "metadata": {"name": f"b{i}"},
                "spec": {"cidr": b.cidr, "allocations": [0] * b.allocated, "unallocated": [],
                         "attributes": [], "affinity": "host:n1", "strictAffinity": False}})
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            got_pools, got_blocks, _ = read_state(ClusterApi(api))
            samples.append(time.perf_counter() - start)
        assert len(got_pools) == n_pools and len(got_blocks) == n_blocks
        api.close()
        thread.close()
    return statistics.median(samples) * 1000


def write(rows: list[dict]) -> None:
    lines = [BEGIN, "## netcfg: the cost of checking an IP pool (`bench/netcfg_pools.py`)", "",
             ("`uv run --no-sync python bench/netcfg_pools.py` — P7 rules (`check_create`: CIDR, "
             "block size, host networks, service CIDR, every pool, every IPAM block) and the read "
             "they need (`ippools` + `ipamblocks` listed with the official client over HTTPS from "
             "a lab API in the same process); medians; 2-core machine."), "",
             "| pools | IPAM blocks | rules (ms) | cluster read (ms) |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['pools']:,} | {r['blocks']:,} | {r['rules']:.2f} | {r['read']:.0f} |")
    lines += ["", "The read dominates: each pool write pays it once (under a per-cluster lock).",
              "", f"Measured {time.strftime('%Y-%m-%d')}.", END]
    section = "\n".join(lines)
    write_section(BEGIN, END, section)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=["100:1000", "1000:10000"],
                        help="pools:blocks pairs")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        n_pools, n_blocks = (int(x) for x in size.split(":"))
        pools, blocks = pools_and_blocks(n_pools, n_blocks)
        row = {"pools": n_pools, "blocks": n_blocks, "rules": time_rules(pools, blocks),
               "read": time_read(n_pools, n_blocks)}
        print(row, flush=True)
        rows.append(row)
    write(rows)


if __name__ == "__main__":
    main()
