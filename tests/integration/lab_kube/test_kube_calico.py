"""Calico's crd.projectcalico.org/v1 resources through CustomObjectsApi: CRUD, merge patch,
optimistic concurrency, and the refusal of strategic merge a real CRD gives."""
from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

G, V = "crd.projectcalico.org", "v1"


def test_ippool_crud(kube_api):
    co = client.CustomObjectsApi(kube_api)
    name = f"pool-{uuid.uuid4().hex[:8]}"
    body = {"apiVersion": f"{G}/{V}", "kind": "IPPool", "metadata": {"name": name},
            "spec": {"cidr": "10.244.0.0/16", "blockSize": 26, "ipipMode": "Never",
                     "vxlanMode": "Never", "natOutgoing": True, "nodeSelector": "all()"}}
    created = co.create_cluster_custom_object(G, V, "ippools", body)
    assert created["metadata"]["uid"] and created["spec"]["cidr"] == "10.244.0.0/16"
    names = [p["metadata"]["name"] for p in co.list_cluster_custom_object(G, V, "ippools")["items"]]
    assert name in names
    patched = co.patch_cluster_custom_object(G, V, "ippools", name, {"spec": {"disabled": True}})
    assert patched["spec"]["disabled"] is True and patched["spec"]["blockSize"] == 26
    current = co.get_cluster_custom_object(G, V, "ippools", name)
    current["spec"]["natOutgoing"] = False
    replaced = co.replace_cluster_custom_object(G, V, "ippools", name, current)
    assert replaced["spec"]["natOutgoing"] is False
    with pytest.raises(ApiException) as stale:
        co.replace_cluster_custom_object(G, V, "ippools", name, current)
    assert stale.value.status == 409
    with pytest.raises(ApiException) as exists:
        co.create_cluster_custom_object(G, V, "ippools", body)
    assert exists.value.status == 409 and "AlreadyExists" in exists.value.body
    with pytest.raises(ApiException) as strategic:
        co.patch_cluster_custom_object(G, V, "ippools", name, {"spec": {"disabled": False}},
                                       _content_type="application/strategic-merge-patch+json")
    assert strategic.value.status == 415
    deleted = co.delete_cluster_custom_object(G, V, "ippools", name)
    assert deleted["metadata"]["name"] == name
    with pytest.raises(ApiException) as missing:
        co.get_cluster_custom_object(G, V, "ippools", name)
    assert missing.value.status == 404


@pytest.mark.parametrize("plural,kind,spec", [
    ("bgppeers", "BGPPeer", {"peerSelector": "route-reflector == 'true'",
                             "nodeSelector": "all()"}),
    ("bgpconfigurations", "BGPConfiguration", {"nodeToNodeMeshEnabled": False,
                                               "asNumber": 64512}),
    ("ipamblocks", "IPAMBlock", {"cidr": "10.244.0.0/26", "affinity": "host:w1",
                                 "allocations": [None, 0], "unallocated": [1],
                                 "attributes": [], "strictAffinity": False}),
])
def test_other_calico_resources(kube_api, plural, kind, spec):
    co = client.CustomObjectsApi(kube_api)
    name = f"{plural[:6]}-{uuid.uuid4().hex[:6]}"
    co.create_cluster_custom_object(G, V, plural, {"apiVersion": f"{G}/{V}", "kind": kind,
                                                   "metadata": {"name": name}, "spec": spec})
    got = co.get_cluster_custom_object(G, V, plural, name)
    assert got["kind"] == kind and got["spec"] == spec
    co.patch_cluster_custom_object(G, V, plural, name, {"metadata": {"labels": {"x": "1"}}})
    listed = co.list_cluster_custom_object(G, V, plural, label_selector="x=1")["items"]
    assert [o["metadata"]["name"] for o in listed] == [name]
    co.delete_cluster_custom_object(G, V, plural, name)
