"""The simulated kubelet as a process: it registers a Ready node with its labels, taints
and GPU capacity within seconds; stopped, the node goes NotReady (Ready=Unknown) after
the grace period; then the node can be deleted."""
from __future__ import annotations

import time

from kubernetes import client

from autorke_lab.kube.lifecycle import UNREACHABLE
from fixtures.waiting import wait


def _wait(predicate, timeout=10.0):
    return wait(predicate, timeout, "condition", 0.1)


def _ready(v1, name):
    try:
        node = v1.read_node(name)
    except client.ApiException:
        return None
    return next((c for c in node.status.conditions or [] if c.type == "Ready"), None)


def test_kubelet_registers_heartbeats_and_goes_not_ready(lab_kube_factory, start_kubelet):
    lab = lab_kube_factory(node_grace_seconds=2.0)
    api = lab.api_client()
    v1 = client.CoreV1Api(api)
    started = time.monotonic()
    kubelet = start_kubelet(lab, "gpu-worker-1", address="127.0.1.7", interval=0.5,
                            labels="node-role.kubernetes.io/worker=true,rack=r1",
                            taints="dedicated=gpu:NoSchedule",
                            capacity="cpu=32,memory=128Gi,nvidia.com/gpu=4")
    _wait(lambda: (c := _ready(v1, "gpu-worker-1")) is not None and c.status == "True")
    assert time.monotonic() - started < 5
    node = v1.read_node("gpu-worker-1")
    assert node.metadata.labels["rack"] == "r1"
    assert [(t.key, t.value, t.effect) for t in node.spec.taints] == [
        ("dedicated", "gpu", "NoSchedule")]
    assert node.status.capacity["nvidia.com/gpu"] == "4"
    assert node.status.addresses[0].address == "127.0.1.7"
    assert node.status.node_info.kubelet_version.startswith("v1.")
    first_beat = _ready(v1, "gpu-worker-1").last_heartbeat_time
    time.sleep(3)                          # longer than the grace: heartbeats keep it Ready
    assert _ready(v1, "gpu-worker-1").status == "True"
    assert _ready(v1, "gpu-worker-1").last_heartbeat_time > first_beat

    kubelet.terminate()
    assert kubelet.wait(5) == 0
    stopped = _wait(lambda: (c := _ready(v1, "gpu-worker-1")).status == "Unknown" and c)
    assert stopped.reason == "NodeStatusUnknown"
    taints = {(t.key, t.effect) for t in v1.read_node("gpu-worker-1").spec.taints}
    assert {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} <= taints
    v1.delete_node("gpu-worker-1")
    assert "gpu-worker-1" not in [n.metadata.name for n in v1.list_node().items]
    api.close()


def test_restarted_kubelet_makes_node_ready_again(lab_kube_factory, start_kubelet):
    lab = lab_kube_factory(node_grace_seconds=1.5)
    api = lab.api_client()
    v1 = client.CoreV1Api(api)
    first = start_kubelet(lab, "w2", interval=0.3)
    _wait(lambda: (c := _ready(v1, "w2")) is not None and c.status == "True")
    first.terminate()
    first.wait(5)
    _wait(lambda: _ready(v1, "w2").status == "Unknown")
    start_kubelet(lab, "w2", interval=0.3)
    _wait(lambda: _ready(v1, "w2").status == "True")
    _wait(lambda: not any(t.key == UNREACHABLE for t in v1.read_node("w2").spec.taints or []))
    api.close()
