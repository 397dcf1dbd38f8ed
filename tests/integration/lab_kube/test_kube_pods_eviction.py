"""Pods, namespaces, workloads and the Eviction subresource through the official client:
a PodDisruptionBudget that would be violated answers 429 until it allows the eviction."""
from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from fixtures.waiting import wait


def _wait(predicate, timeout=10.0, interval=0.1):
    return wait(predicate, timeout, "condition", interval)


def _ready_node(v1, name, labels=None):
    now = "2024-01-01T00:00:00Z"
    v1.create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
        status=client.V1NodeStatus(
            conditions=[client.V1NodeCondition(type="Ready", status="True", reason="KubeletReady",
                                               last_heartbeat_time=now,
                                               last_transition_time=now)],
            addresses=[client.V1NodeAddress(type="InternalIP", address="127.0.0.9")],
            allocatable={"pods": "110", "cpu": "8"}, capacity={"pods": "110", "cpu": "8"})))


def _pod(name, node, labels):
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels),
                        spec=client.V1PodSpec(node_name=node, containers=[
                            client.V1Container(name="app", image="pause")]))


def _evict(v1, name, ns):
    return v1.create_namespaced_pod_eviction(name, ns, client.V1Eviction(
        metadata=client.V1ObjectMeta(name=name, namespace=ns),
        delete_options=client.V1DeleteOptions(grace_period_seconds=30)))


@pytest.fixture
def namespace(kube_api):
    v1 = client.CoreV1Api(kube_api)
    ns = f"ns-{uuid.uuid4().hex[:8]}"
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    yield ns
    v1.delete_namespace(ns)


def test_namespaces_and_pods_in_missing_namespace(kube_api, namespace):
    v1 = client.CoreV1Api(kube_api)
    assert v1.read_namespace(namespace).status.phase == "Active"
    with pytest.raises(ApiException) as missing:
        v1.create_namespaced_pod("no-such-ns", _pod("p", None, {}))
    assert missing.value.status == 404


def test_pods_by_node_and_eviction_with_budget(kube_api, namespace):
    v1, policy = client.CoreV1Api(kube_api), client.PolicyV1Api(kube_api)
    node = f"n-{uuid.uuid4().hex[:8]}"
    _ready_node(v1, node)
    labels = {"app": "db"}
    for i in range(2):
        v1.create_namespaced_pod(namespace, _pod(f"db-{i}", node, labels))
    _wait(lambda: all(p.status.phase == "Running" for p in
                      v1.list_namespaced_pod(namespace, label_selector="app=db").items))
    on_node = v1.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert sorted(p.metadata.name for p in on_node if p.metadata.namespace == namespace) == \
        ["db-0", "db-1"]
    assert all(p.status.host_ip == "127.0.0.9" and p.status.pod_ip for p in on_node)

    policy.create_namespaced_pod_disruption_budget(namespace, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="db-pdb"),
        spec=client.V1PodDisruptionBudgetSpec(min_available=2,
                                              selector=client.V1LabelSelector(match_labels=labels))))
    assert [b.metadata.name for b in
            policy.list_namespaced_pod_disruption_budget(namespace).items] == ["db-pdb"]
    with pytest.raises(ApiException) as blocked:
        _evict(v1, "db-0", namespace)
    assert blocked.value.status == 429
    assert "disruption budget" in blocked.value.body and '"kind":"Status"' in \
        blocked.value.body.replace(" ", "")
    budget = _wait(lambda: (b := policy.read_namespaced_pod_disruption_budget(
        "db-pdb", namespace)).status.expected_pods == 2 and b)
    assert budget.status.disruptions_allowed == 0 and budget.status.current_healthy == 2

    v1.create_namespaced_pod(namespace, _pod("db-2", node, labels))   # the budget now allows one
    _wait(lambda: v1.read_namespaced_pod("db-2", namespace).status.phase == "Running")
    _evict(v1, "db-0", namespace)
    with pytest.raises(ApiException) as gone:
        v1.read_namespaced_pod("db-0", namespace)
    assert gone.value.status == 404
    with pytest.raises(ApiException):
        _evict(v1, "db-1", namespace)                                # back at the minimum
    policy.delete_namespaced_pod_disruption_budget("db-pdb", namespace)
    _evict(v1, "db-1", namespace)
    v1.delete_namespaced_pod("db-2", namespace)
    assert v1.list_namespaced_pod(namespace).items == []
    v1.delete_node(node)


def test_eviction_without_budget_and_max_unavailable(kube_api, namespace):
    v1, policy = client.CoreV1Api(kube_api), client.PolicyV1Api(kube_api)
    node = f"n-{uuid.uuid4().hex[:8]}"
    _ready_node(v1, node)
    v1.create_namespaced_pod(namespace, _pod("free", node, {"app": "free"}))
    _evict(v1, "free", namespace)
    assert v1.list_namespaced_pod(namespace).items == []
    for i in range(3):
        v1.create_namespaced_pod(namespace, _pod(f"w-{i}", node, {"app": "w"}))
    policy.create_namespaced_pod_disruption_budget(namespace, client.V1PodDisruptionBudget(
        metadata=client.V1ObjectMeta(name="w-pdb"),
        spec=client.V1PodDisruptionBudgetSpec(max_unavailable="34%",
                                              selector=client.V1LabelSelector(match_labels={"app": "w"}))))
    _wait(lambda: all(p.status.phase == "Running" for p in v1.list_namespaced_pod(namespace).items))
    _evict(v1, "w-0", namespace)                 # 34% of 3 rounds up to 2 unavailable
    v1.delete_node(node)                          # pod GC removes the pods of a deleted node
    _wait(lambda: not v1.list_namespaced_pod(namespace).items)


def test_replicaset_pods_come_back_elsewhere_after_eviction(kube_api, namespace):
    v1, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    tag = uuid.uuid4().hex[:6]
    old, new = f"old-{tag}", f"new-{tag}"
    _ready_node(v1, old, {"pool": tag})
    labels = {"app": f"rs-{tag}"}
    apps.create_namespaced_replica_set(namespace, client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name="rs"),
        spec=client.V1ReplicaSetSpec(
            replicas=2, selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(node_selector={"pool": tag}, containers=[
                    client.V1Container(name="app", image="pause")])))))

    def running_on():
        return sorted(p.spec.node_name for p in v1.list_namespaced_pod(namespace).items
                      if p.status.phase == "Running")

    _wait(lambda: running_on() == [old, old])
    pods = v1.list_namespaced_pod(namespace).items
    assert pods[0].metadata.owner_references[0].kind == "ReplicaSet"
    _ready_node(v1, new, {"pool": tag})
    v1.patch_node(old, {"spec": {"unschedulable": True}})                # cordon, then drain
    for pod in pods:
        _evict(v1, pod.metadata.name, namespace)
    _wait(lambda: running_on() == [new, new])
    _wait(lambda: apps.read_namespaced_replica_set("rs", namespace).status.ready_replicas == 2)
    apps.delete_namespaced_replica_set("rs", namespace)
    _wait(lambda: not v1.list_namespaced_pod(namespace).items)
    for name in (old, new):
        v1.delete_node(name)
