"""Nodes through the official client: CRUD, the three patch formats, selectors, optimistic
concurrency, Status errors, auth and watch, against a lab API over HTTPS."""
from __future__ import annotations

import copy
import threading
import uuid

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException


def _name(prefix: str = "n") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _node(name: str, labels: dict[str, str] | None = None,
          taints: list[client.V1Taint] | None = None) -> client.V1Node:
    return client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=labels or {}),
                         spec=client.V1NodeSpec(taints=taints))


def test_version_and_discovery(kube_api):
    assert client.VersionApi(kube_api).get_code().git_version.startswith("v1.")
    groups = {g.name for g in client.ApisApi(kube_api).get_api_versions().groups}
    assert {"policy", "crd.projectcalico.org", "apps"} <= groups
    names = {r.name for r in client.CoreV1Api(kube_api).get_api_resources().resources}
    assert {"nodes", "pods", "pods/eviction", "namespaces"} <= names


def test_node_crud(kube_api):
    v1 = client.CoreV1Api(kube_api)
    name = _name()
    created = v1.create_node(_node(name, {"rack": "r1"}))
    assert created.metadata.uid and int(created.metadata.resource_version) > 0
    assert v1.read_node(name).metadata.labels["rack"] == "r1"
    with pytest.raises(ApiException) as exists:
        v1.create_node(_node(name))
    assert exists.value.status == 409 and exists.value.reason == "Conflict"
    assert '"reason":"AlreadyExists"' in exists.value.body.replace(" ", "")
    current = v1.read_node(name)
    current.metadata.labels["rack"] = "r2"
    replaced = v1.replace_node(name, current)
    assert replaced.metadata.labels["rack"] == "r2"
    assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)
    v1.delete_node(name)
    with pytest.raises(ApiException) as missing:
        v1.read_node(name)
    assert missing.value.status == 404
    assert f'nodes \\"{name}\\" not found' in missing.value.body or "not found" in missing.value.body


def test_strategic_merge_patch_merges_maps_and_replaces_taints(kube_api):
    v1 = client.CoreV1Api(kube_api)
    name = _name()
    v1.create_node(_node(name, {"keep": "1", "drop": "1"},
                         [client.V1Taint(key="a", value="1", effect="NoSchedule")]))
    patched = v1.patch_node(name, {
        "metadata": {"labels": {"added": "1", "drop": None}},
        "spec": {"unschedulable": True,
                 "taints": [{"key": "b", "value": "2", "effect": "NoExecute"}]}})
    assert patched.metadata.labels["keep"] == "1" and patched.metadata.labels["added"] == "1"
    assert "drop" not in patched.metadata.labels
    assert patched.spec.unschedulable is True
    assert [(t.key, t.effect) for t in patched.spec.taints] == [("b", "NoExecute")]
    v1.delete_node(name)


def test_strategic_merge_status_conditions_merge_by_type(kube_api):
    v1 = client.CoreV1Api(kube_api)
    name = _name()
    v1.create_node(_node(name))
    t = "2024-01-01T00:00:00Z"
    def cond(kind, status):
        return {"type": kind, "status": status, "lastHeartbeatTime": t,
                "lastTransitionTime": t, "reason": "R", "message": ""}
    v1.patch_node_status(name, {"status": {"conditions": [cond("Ready", "False"),
                                                          cond("DiskPressure", "False")]}})
    node = v1.patch_node_status(name, {"status": {"conditions": [cond("Ready", "True")]}})
    conds = {c.type: c.status for c in node.status.conditions}
    assert conds == {"Ready": "True", "DiskPressure": "False"}
    # the main endpoint leaves status alone, as on a real server
    node = v1.patch_node(name, {"status": {"conditions": [cond("Ready", "False")]}})
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
    v1.delete_node(name)


def test_merge_patch_and_json_patch(kube_api):
    v1 = client.CoreV1Api(kube_api)
    name = _name()
    v1.create_node(_node(name, {"a": "1"}, [client.V1Taint(key="t1", effect="NoSchedule")]))
    merged = v1.patch_node(name, {"metadata": {"labels": {"b": "2", "a": None}}},
                           _content_type="application/merge-patch+json")
    assert merged.metadata.labels.get("b") == "2" and "a" not in merged.metadata.labels
    patched = v1.patch_node(name, [
        {"op": "add", "path": "/spec/taints/-",
         "value": {"key": "t2", "value": "x", "effect": "NoExecute"}},
        {"op": "replace", "path": "/metadata/labels/b", "value": "3"},
        {"op": "test", "path": "/spec/taints/0/key", "value": "t1"}])
    assert [t.key for t in patched.spec.taints] == ["t1", "t2"]
    assert patched.metadata.labels["b"] == "3"
    with pytest.raises(ApiException) as failed:
        v1.patch_node(name, [{"op": "test", "path": "/metadata/labels/b", "value": "nope"}])
    assert failed.value.status == 422
    v1.delete_node(name)


def test_stale_resource_version_is_a_conflict(kube_api):
    v1 = client.CoreV1Api(kube_api)
    name = _name()
    stale = v1.create_node(_node(name))
    v1.patch_node(name, {"metadata": {"labels": {"x": "1"}}})
    stale.metadata.labels = {"x": "2"}
    with pytest.raises(ApiException) as replace_conflict:
        v1.replace_node(name, stale)
    assert replace_conflict.value.status == 409
    assert "the object has been modified" in replace_conflict.value.body
    with pytest.raises(ApiException) as patch_conflict:
        v1.patch_node(name, {"metadata": {"resourceVersion": stale.metadata.resource_version,
                                          "labels": {"x": "3"}}})
    assert patch_conflict.value.status == 409
    with pytest.raises(ApiException) as delete_conflict:
        v1.delete_node(name, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(
            resource_version=stale.metadata.resource_version)))
    assert delete_conflict.value.status == 409
    assert v1.read_node(name).metadata.labels["x"] == "1"
    v1.delete_node(name)


def test_label_and_field_selectors(kube_api):
    v1 = client.CoreV1Api(kube_api)
    tag = uuid.uuid4().hex[:8]
    names = [_name() for _ in range(3)]
    for i, name in enumerate(names):
        v1.create_node(_node(name, {"sel": tag, "idx": str(i),
                                    **({"gpu": "true"} if i else {})}))
    v1.patch_node(names[2], {"spec": {"unschedulable": True}})
    listed = lambda **kw: sorted(n.metadata.name for n in v1.list_node(**kw).items)
    assert listed(label_selector=f"sel={tag}") == sorted(names)
    assert listed(label_selector=f"sel={tag},gpu=true") == sorted(names[1:])
    assert listed(label_selector=f"sel={tag},!gpu") == [names[0]]
    assert listed(label_selector=f"sel={tag},idx in (0,2)") == sorted([names[0], names[2]])
    assert listed(label_selector=f"sel={tag},idx notin (0,2)") == [names[1]]
    assert listed(label_selector=f"sel={tag}", field_selector="spec.unschedulable=true") == [names[2]]
    assert listed(field_selector=f"metadata.name={names[1]}") == [names[1]]
    with pytest.raises(ApiException) as bad:
        v1.list_node(field_selector="spec.nope=1")
    assert bad.value.status == 400
    page = v1.list_node(label_selector=f"sel={tag}", limit=2)
    rest = v1.list_node(label_selector=f"sel={tag}", limit=2, _continue=page.metadata._continue)
    assert len(page.items) == 2 and len(rest.items) == 1
    for name in names:
        v1.delete_node(name)


@pytest.mark.parametrize("user", [{"token": "wrong.token"}, {}])
def test_bad_or_missing_token_is_401(lab_kube, user):
    kubeconfig = copy.deepcopy(lab_kube.kubeconfig)
    kubeconfig["users"][0]["user"] = user
    api = config.new_client_from_config_dict(kubeconfig)
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(api).list_node()
    assert denied.value.status == 401 and '"kind":"Status"' in denied.value.body.replace(" ", "")
    api.close()


def test_watch_sees_added_modified_deleted(kube_api):
    v1 = client.CoreV1Api(kube_api)
    tag = uuid.uuid4().hex[:8]
    name = _name()
    rv = v1.list_node(label_selector=f"w={tag}").metadata.resource_version
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def consume():
        w = watch.Watch()
        for event in w.stream(v1.list_node, label_selector=f"w={tag}", resource_version=rv,
                              timeout_seconds=10):
            seen.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                w.stop()
        done.set()

    thread = threading.Thread(target=consume)
    thread.start()
    v1.create_node(_node(name, {"w": tag}))
    v1.patch_node(name, {"metadata": {"labels": {"step": "2"}}})
    v1.delete_node(name)
    assert done.wait(10)
    thread.join()
    assert seen == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]


def test_watch_without_version_starts_with_current_state(kube_api):
    v1 = client.CoreV1Api(kube_api)
    tag = uuid.uuid4().hex[:8]
    name = _name()
    v1.create_node(_node(name, {"w": tag}))
    events = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        v1.list_node, label_selector=f"w={tag}", timeout_seconds=1)]
    assert events == [("ADDED", name)]
    v1.delete_node(name)
