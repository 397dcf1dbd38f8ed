"""A lab cluster filled with 1,000 hollow nodes (and 2,000 pods) lists with selectors,
patches and watches correctly through the official client."""
from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client, watch

COUNT = 1000


@pytest.fixture(scope="module")
def hollow_lab(lab_kube_thread, tmp_path_factory):
    from autorke_lab.kube.cluster import KubeClusterSettings
    from fixtures.lab_kube import KubeLab
    cluster = lab_kube_thread.start_cluster(KubeClusterSettings(
        name="hollow", state_dir=tmp_path_factory.mktemp("hollow"), hollow_nodes=COUNT,
        hollow_pods_per_node=2, node_grace_seconds=2.0))
    yield KubeLab(cluster, lab_kube_thread)
    lab_kube_thread.stop_cluster(cluster)


@pytest.fixture
def v1(hollow_lab):
    api = hollow_lab.api_client()
    yield client.CoreV1Api(api)
    api.close()


def test_lists_with_selectors(v1):
    nodes = v1.list_node()
    assert len(nodes.items) == COUNT
    assert all(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)
               for n in nodes.items)
    gpu = v1.list_node(label_selector="nvidia.com/gpu.present=true").items
    assert len(gpu) == COUNT // 4 and all(n.status.capacity["nvidia.com/gpu"] == "8" for n in gpu)
    rack = v1.list_node(label_selector="rack=r003,topology.kubernetes.io/zone in (zone-0,zone-1)")
    assert len(rack.items) == 27 and all(n.metadata.labels["rack"] == "r003" for n in rack.items)


def test_hollow_nodes_stay_ready_and_run_their_pods(v1):
    time.sleep(2.5)                                # past the grace period: still Ready
    not_ready = [n.metadata.name for n in v1.list_node().items
                 if not any(c.type == "Ready" and c.status == "True"
                            for c in n.status.conditions)]
    assert not_ready == []
    deadline = time.monotonic() + 10
    while True:
        pods = v1.list_pod_for_all_namespaces(field_selector="spec.nodeName=hollow-00007").items
        if len([p for p in pods if p.status.phase == "Running"]) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    owners = {p.metadata.owner_references[0].kind for p in pods}
    assert len([p for p in pods if p.status.phase == "Running"]) >= 2
    assert owners <= {"ReplicaSet", "DaemonSet"}


def test_patch_and_watch_at_scale(v1):
    rv = v1.list_node(label_selector="rack=r001").metadata.resource_version
    events: list[tuple[str, str]] = []
    ready = threading.Event()

    def consume():
        w = watch.Watch()
        for event in w.stream(v1.list_node, label_selector="rack=r001", resource_version=rv,
                              timeout_seconds=20):
            if event["object"].spec.unschedulable:
                events.append((event["type"], event["object"].metadata.name))
            if len(events) == 40:
                w.stop()
        ready.set()

    thread = threading.Thread(target=consume)
    thread.start()
    for index in range(40, 120):                   # racks r001 and r002
        v1.patch_node(f"hollow-{index:05d}", {"spec": {"unschedulable": True},
                                              "metadata": {"labels": {"drain": "yes"}}})
    assert ready.wait(20)
    thread.join()
    assert sorted(events) == [("MODIFIED", f"hollow-{i:05d}") for i in range(40, 80)]
    cordoned = v1.list_node(field_selector="spec.unschedulable=true", label_selector="drain=yes")
    assert len(cordoned.items) == 80


def test_watch_from_scratch_lists_every_node(v1):
    names = {e["object"].metadata.name for e in watch.Watch().stream(
        v1.list_node, timeout_seconds=2) if e["type"] == "ADDED"}
    assert len(names) == COUNT
