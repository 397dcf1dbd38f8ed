"""Benchmark of the lab Kubernetes API with hollow nodes, measured the way the platform
uses it: the official client over HTTPS against the API served by another process
(``python -m autorke_lab.kube``), as ``autorke lab up`` serves it.

    uv run --no-sync python bench/lab_kube.py [--nodes 1000 5000] [--patches 200]

For each size: time to start and fill, full and label-selected node lists, a pod list by
``spec.nodeName``, sequential strategic-merge patches per second, and the delay from a
patch to the watch event. Bounded loops; the server is ended by its PID at the end.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from kubernetes import client, config, watch


def _timed(fn, runs: int = 5) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench(nodes: int, patches: int) -> dict[str, float]:
    state = Path(tempfile.mkdtemp(prefix="bench-kube-"))
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "autorke_lab.kube", "--state-dir", str(state), "--cluster",
         "bench", "--base-port", "0", "--hollow-nodes", str(nodes),
         "--hollow-pods-per-node", "2"], stdout=subprocess.PIPE, text=True)
    try:
        status = json.loads(server.stdout.readline())
        ready_s = time.perf_counter() - started
        kubeconfig = yaml.safe_load(Path(status["clusters"][0]["kubeconfig"]).read_text())
        api = config.new_client_from_config_dict(kubeconfig)
        v1 = client.CoreV1Api(api)
        assert len(v1.list_node().items) == nodes
        result = {
            "nodes": nodes, "start_and_fill_s": ready_s,
            "list_all_nodes_s": _timed(lambda: v1.list_node()),
            "list_all_nodes_undecoded_s": _timed(
                lambda: v1.list_node(_preload_content=False).read()),
            "list_label_selector_s": _timed(
                lambda: v1.list_node(label_selector="nvidia.com/gpu.present=true")),
            "list_pods_by_node_s": _timed(lambda: v1.list_pod_for_all_namespaces(
                field_selector="spec.nodeName=hollow-00003")),
        }
        began = time.perf_counter()
        for i in range(patches):
            v1.patch_node(f"hollow-{i % nodes:05d}", {"metadata": {"labels": {"bench": str(i)}}})
        result["patches_per_s"] = patches / (time.perf_counter() - began)

        delays: list[float] = []
        sent: dict[str, float] = {}
        rv = v1.list_node(label_selector="rack=r000").metadata.resource_version
        done = threading.Event()

        def consume() -> None:
            w = watch.Watch()
            for event in w.stream(v1.list_node, label_selector="rack=r000",
                                  resource_version=rv, timeout_seconds=30):
                mark = (event["object"].metadata.labels or {}).get("mark")
                if mark in sent:
                    delays.append(time.perf_counter() - sent.pop(mark))
                if len(delays) == 20:
                    w.stop()
            done.set()

        thread = threading.Thread(target=consume)
        thread.start()
        time.sleep(0.3)
        for i in range(20):
            sent[str(i)] = time.perf_counter()
            v1.patch_node(f"hollow-{i:05d}", {"metadata": {"labels": {"mark": str(i)}}})
            time.sleep(0.05)
        done.wait(30)
        thread.join(5)
        result["watch_event_delay_ms_median"] = statistics.median(delays) * 1000
        api.close()
        return result
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--patches", type=int, default=200)
    args = parser.parse_args()
    for nodes in args.nodes:
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in bench(nodes, args.patches).items()}), flush=True)


if __name__ == "__main__":
    main()
