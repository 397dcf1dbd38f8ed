"""Kubernetes jobs with the official client against the lab API: the kubeconfig arrives
sealed, nodes are cordoned, labelled, tainted, drained (a PodDisruptionBudget holds an
eviction until it allows it; DaemonSet pods stay), listed, awaited and deleted; a node
outside the fence is refused."""
from __future__ import annotations

import threading
import time
import uuid

from kubernetes import client

from .conftest import new_job, send, wait_finished


def _node(v1, name: str) -> None:
    now = "2024-01-01T00:00:00Z"
    v1.create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name, labels={"pool": "test"}),
        status=client.V1NodeStatus(conditions=[client.V1NodeCondition(
            type="Ready", status="True", reason="KubeletReady", last_heartbeat_time=now,
            last_transition_time=now)])))


def _pod(v1, ns: str, name: str, node: str, labels: dict, owner: str | None = None) -> None:
    owners = [client.V1OwnerReference(api_version="apps/v1", kind=owner, name="ds", uid=str(uuid.uuid4()))] \
        if owner else None
    v1.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels, owner_references=owners),
        spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name="c", image="pause")])))


def _cordoned(v1, name: str) -> bool:
    spec = v1.read_node(name).spec
    return bool(spec and spec.unschedulable)


def _kube_job(box, kube, action: str, nodes: list[str], fence: list[str], **params):
    return new_job(kind="kube", action=action, params={"nodes": nodes, **params}, fence=fence,
                   secrets={"kubeconfig": box.seal(kube.kubeconfig_yaml)})


def test_node_operations_and_fence(lab, lab_kube, kube_api, events, executor_factory, box):
    executor_factory(lab)
    v1 = client.CoreV1Api(kube_api)
    a, b = f"n-{uuid.uuid4().hex[:6]}", f"n-{uuid.uuid4().hex[:6]}"
    _node(v1, a)
    _node(v1, b)
    job = _kube_job(box, lab_kube, "cordon", [a, b], fence=[a])
    send(events, job)
    by_host = {t["host"]: t for t in wait_finished(events, job.job_id)[0]["data"]["targets"]}
    assert by_host[a]["status"] == "succeeded" and by_host[b]["error_class"] == "refused_fence"
    assert _cordoned(v1, a) and not _cordoned(v1, b)

    job = _kube_job(box, lab_kube, "label", [a], fence=[a], labels={"rack": "r9", "pool": None})
    send(events, job)
    assert wait_finished(events, job.job_id)[0]["data"]["status"] == "succeeded"
    labels = v1.read_node(a).metadata.labels
    assert labels.get("rack") == "r9" and "pool" not in labels

    job = _kube_job(box, lab_kube, "taint", [a], fence=[a],
                    taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    send(events, job)
    assert wait_finished(events, job.job_id)[0]["data"]["status"] == "succeeded"
    assert [(t.key, t.value, t.effect) for t in v1.read_node(a).spec.taints] == [("dedicated", "gpu", "NoSchedule")]

    job = new_job(kind="kube", action="list_nodes", secrets={"kubeconfig": box.seal(lab_kube.kubeconfig_yaml)})
    send(events, job)
    wait_finished(events, job.job_id)
    target = events.of(job.job_id, "executor.target.finished")[0]["data"]
    assert target["status"] == "succeeded", target["error"]
    listed = {n["name"]: n for n in target["result"]["nodes"]}
    assert listed[a]["unschedulable"] and listed[a]["labels"]["rack"] == "r9" and listed[b]["ready"]
    assert [(c["type"], c["status"], c["reason"]) for c in listed[b]["conditions"]] == \
        [("Ready", "True", "KubeletReady")]
    assert listed[b]["conditions"][0]["last_transition_time"].startswith("2024-01-01T00:00:00")

    job = _kube_job(box, lab_kube, "wait_ready", [b], fence=[b], timeout_s=5)
    send(events, job)
    assert wait_finished(events, job.job_id)[0]["data"]["status"] == "succeeded"

    for action in ("uncordon", "delete_node"):
        job = _kube_job(box, lab_kube, action, [a, b], fence=[a, b])
        send(events, job)
        assert wait_finished(events, job.job_id)[0]["data"]["status"] == "succeeded"
    assert {n.metadata.name for n in v1.list_node().items}.isdisjoint({a, b})
    # the kubeconfig never appears in any event
    assert all(lab_kube.token not in str(e) for e in events.events)


def test_drain_waits_for_the_disruption_budget_and_skips_daemonsets(lab, lab_kube, kube_api, events,
                                                                    executor_factory, box):
    executor_factory(lab)
    v1, policy = client.CoreV1Api(kube_api), client.PolicyV1Api(kube_api)
    ns, node = f"ns-{uuid.uuid4().hex[:6]}", f"n-{uuid.uuid4().hex[:6]}"
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    _node(v1, node)
    for i in range(2):
        _pod(v1, ns, f"db-{i}", node, {"app": "db"})
    _pod(v1, ns, "calico-node-x", node, {"app": "calico"}, owner="DaemonSet")
    policy.create_namespaced_pod_disruption_budget(ns, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="db"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=2, selector=client.V1LabelSelector(
            match_labels={"app": "db"}))))
    time.sleep(1.0)  # pods running, budget computed

    def relax() -> None:  # an operator lowers the budget a little later
        time.sleep(2.5)
        policy.patch_namespaced_pod_disruption_budget("db", ns, {"spec": {"minAvailable": 0}})
    threading.Thread(target=relax, daemon=True).start()

    job = _kube_job(box, lab_kube, "drain", [node], fence=[node], timeout_s=30)
    send(events, job)
    finished = wait_finished(events, job.job_id, timeout=45)[0]["data"]
    assert finished["status"] == "succeeded", finished["targets"]
    result = events.of(job.job_id, "executor.target.finished")[0]["data"]["result"]
    # (the shared lab cluster may also have scheduled its own workload pods on the node)
    assert {f"{ns}/db-0", f"{ns}/db-1"} <= set(result["evicted"])
    assert result["blocked_retries"] >= 1
    assert f"{ns}/calico-node-x (DaemonSet)" in result["skipped"]
    assert not any(e.endswith("calico-node-x") for e in result["evicted"])
    left = [p.metadata.name for p in v1.list_namespaced_pod(ns).items if p.spec.node_name == node]
    assert left == ["calico-node-x"]
    assert _cordoned(v1, node)
    v1.delete_node(node)
    v1.delete_namespace(ns)
