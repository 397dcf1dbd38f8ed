"""IP pools through netcfg against a lab cluster's Kubernetes API (DESIGN.md P7): every
refusal has its own problem type, names the conflicting range and the field, and leaves
the cluster's pools exactly as they were (read through the official client before and
after); the writes that pass land in the cluster, are recorded, announced on the bus, and
drift is reported."""
from __future__ import annotations

import pytest
from kubernetes import client

from .conftest import G, V, pools_in, wait_for

BASE = "/api/v1/clusters/{c}/ippools"


POOL_WRITES = ("netcfg.ippool.created", "netcfg.ippool.updated", "netcfg.ippool.deleted",
               "netcfg.ippool.enabled", "netcfg.ippool.disabled")


def create(netcfg, c, name, **spec):
    """A pool created through the API and its approved change (``Netcfg.write``)."""
    return netcfg.write("POST", BASE.format(c=c), json={"name": name, "spec": spec})


def written(netcfg) -> list[str]:
    return [e.type for e in netcfg.events() if e.type in POOL_WRITES]


def add_block(api, cidr, allocated):
    """An IPAM block as calico-ipam writes it: ``allocated`` addresses in use."""
    net_size = 2 ** (32 - int(cidr.split("/")[1]))
    allocations = [0] * allocated + [None] * (net_size - allocated)
    client.CustomObjectsApi(api).create_cluster_custom_object(G, V, "ipamblocks", {
        "apiVersion": f"{G}/{V}", "kind": "IPAMBlock",
        "metadata": {"name": cidr.replace(".", "-").replace("/", "-")},
        "spec": {"cidr": cidr, "affinity": "host:w1", "allocations": allocations,
                 "unallocated": list(range(allocated, net_size)), "attributes": [],
                 "strictAffinity": False}})


def assert_refused(response, slug, status, field, mentions):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://autorke.dev/problems/{slug}"
    assert body["field"] == field
    for text in mentions:
        assert text in body["detail"], body["detail"]
    return body


REFUSALS = [
    # (slug, status, field, spec, text the message must name)
    ("invalid-cidr", 422, "cidr", {"cidr": "10.51.0.0/33"}, ["10.51.0.0/33"]),
    ("invalid-cidr", 422, "cidr", {"cidr": "10.51.1.0/16"}, ["10.51.1.0/16", "10.51.0.0/16"]),
    ("invalid-cidr", 422, "cidr", {"cidr": "not-a-cidr"}, ["not-a-cidr"]),
    ("invalid-block-size", 422, "blockSize", {"cidr": "10.51.0.0/16", "blockSize": 19}, ["20-32"]),
    ("invalid-block-size", 422, "blockSize", {"cidr": "fd00:50::/48", "blockSize": 112},
     ["116-128"]),
    ("invalid-block-size", 422, "blockSize", {"cidr": "10.51.0.0/28", "blockSize": 26},
     ["10.51.0.0/28"]),
    ("pool-overlaps-host-network", 409, "cidr", {"cidr": "10.20.0.0/20"},
     ["10.20.0.0/20", "10.20.0.0/16"]),
    ("pool-overlaps-host-network", 409, "cidr", {"cidr": "192.168.0.0/16"},
     ["192.168.10.0/24"]),
    ("pool-overlaps-service-cidr", 409, "cidr", {"cidr": "10.43.128.0/18"},
     ["10.43.128.0/18", "10.43.0.0/16"]),
    ("pool-overlaps-pool", 409, "cidr", {"cidr": "10.50.0.0/16"}, ["10.50.0.0/16", "existing"]),
    ("pool-overlaps-pod-cidr", 409, "cidr", {"cidr": "10.42.0.0/24"}, ["10.42.0.0/24", "10.42.0.0/16"]),
    ("pool-overlaps-reserved", 422, "cidr", {"cidr": "127.0.0.0/16"}, ["127.0.0.0/8"]),
    ("pool-overlaps-reserved", 422, "cidr", {"cidr": "224.0.0.0/8"}, ["224.0.0.0/4"]),
    ("pool-overlaps-reserved", 422, "cidr", {"cidr": "169.254.0.0/24"}, ["169.254.0.0/16"]),
    ("invalid-encapsulation", 422, "vxlanMode",
     {"cidr": "10.51.0.0/16", "ipipMode": "Always", "vxlanMode": "Always"}, ["10.51.0.0/16"]),
]


def test_p7_every_refused_pool_leaves_the_cluster_unchanged(netcfg, cluster):
    lab, api = cluster
    assert create(netcfg, lab.name, "existing", cidr="10.50.0.0/16").status_code == 201
    before = pools_in(api)
    for slug, status, field, spec, mentions in REFUSALS:
        response = create(netcfg, lab.name, "refused", **spec)
        assert_refused(response, slug, status, field, mentions)
        assert pools_in(api) == before, f"{slug} changed the cluster"
    # the overlap carries the conflicting range as data, for the console
    body = create(netcfg, lab.name, "x", cidr="10.20.4.0/24").json()
    assert body["conflict"] == "10.20.0.0/16"
    assert [p["name"] for p in pools_in(api)] == ["existing"]
    created = [e for e in netcfg.events() if e.type == "netcfg.ippool.created"]
    assert [e.data["pool"] for e in created] == ["existing"]
    assert len(netcfg.changes.created) == 1, "a refused request creates no change"


def test_m3_cidr_and_block_size_never_change_and_a_pool_in_use_is_not_deleted(netcfg, cluster):
    lab, api = cluster
    path = BASE.format(c=lab.name) + "/busy"
    assert create(netcfg, lab.name, "busy", cidr="10.60.0.0/16", blockSize=26).status_code == 201
    before = pools_in(api)
    for spec, field in (({"cidr": "10.60.0.0/17", "blockSize": 26}, "cidr"),
                        ({"cidr": "10.61.0.0/16", "blockSize": 26}, "cidr"),
                        ({"cidr": "10.60.0.0/15", "blockSize": 26}, "cidr"),
                        ({"cidr": "10.60.0.0/16", "blockSize": 24}, "blockSize")):
        refused = netcfg.write("PUT", path, json={"spec": spec})
        assert_refused(refused, "immutable-field", 422, field, ["busy"])   # in use or not
    add_block(api, "10.60.200.0/26", allocated=5)
    delete = netcfg.write("DELETE", path)
    assert_refused(delete, "pool-in-use", 409, "cidr", ["5 allocated", "10.60.200.0/26"])
    assert pools_in(api) == before
    # a pool of another block size over the existing blocks is refused too
    clash = create(netcfg, lab.name, "clash", cidr="10.60.200.0/24", blockSize=28)
    assert clash.status_code == 409  # overlaps "busy" first
    assert pools_in(api) == before
    assert len(netcfg.changes.created) == 1


def test_p7_delete_needs_disabled_and_empty(netcfg, cluster):
    lab, api = cluster
    path = BASE.format(c=lab.name) + "/old"
    assert create(netcfg, lab.name, "old", cidr="10.70.0.0/16").status_code == 201
    add_block(api, "10.70.0.0/26", allocated=0)   # blocks, but every address released
    refused = netcfg.write("DELETE", path)
    assert_refused(refused, "pool-not-disabled", 409, "disabled", ["10.70.0.0/16"])
    assert [p["name"] for p in pools_in(api)] == ["old"]
    disabled = netcfg.write("POST", path + ":disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert pools_in(api)[0]["spec"]["disabled"] is True
    assert netcfg.write("DELETE", path).status_code == 204
    assert pools_in(api) == []
    assert netcfg.call("GET", path).status_code == 404
    assert written(netcfg) == ["netcfg.ippool.created", "netcfg.ippool.disabled", "netcfg.ippool.deleted"]


def test_pool_crud_enable_and_roles(netcfg, cluster):
    lab, api = cluster
    base = BASE.format(c=lab.name)
    r = create(netcfg, lab.name, "pods-a", cidr="10.80.0.0/16", blockSize=24, natOutgoing=True,
               nodeSelector="rack == 'r1'")
    assert r.status_code == 201, r.text
    assert r.json()["blockSize"] == 24 and r.json()["drift"] is None
    assert pools_in(api) == [{"name": "pods-a", "spec": {
        "cidr": "10.80.0.0/16", "blockSize": 24, "ipipMode": "Never", "vxlanMode": "Never",
        "natOutgoing": True, "disabled": False, "nodeSelector": "rack == 'r1'",
        "disableBGPExport": False}}]
    # viewers read, but may not write
    assert netcfg.call("GET", base, "viewer").json()["items"][0]["name"] == "pods-a"
    assert create_as(netcfg, "viewer", lab.name, "nope", cidr="10.81.0.0/16").status_code == 403
    # every field but the CIDR and the block size may change
    put = netcfg.write("PUT", base + "/pods-a", json={"spec": {"cidr": "10.80.0.0/16", "blockSize": 24,
                                                               "natOutgoing": False}})
    assert put.status_code == 200, put.text
    assert pools_in(api)[0]["spec"]["natOutgoing"] is False
    assert netcfg.write("POST", base + "/pods-a:disable").json()["disabled"] is True
    assert netcfg.write("POST", base + "/pods-a:enable").json()["disabled"] is False
    assert pools_in(api)[0]["spec"]["disabled"] is False
    assert netcfg.call("GET", base + "/nope").status_code == 404
    unknown = netcfg.call("GET", "/api/v1/clusters/no-such-cluster/ippools")
    assert unknown.status_code == 404 and unknown.json()["type"].endswith("/not-found")
    assert written(netcfg) == ["netcfg.ippool.created", "netcfg.ippool.updated", "netcfg.ippool.disabled",
                               "netcfg.ippool.enabled"]


def create_as(netcfg, user, c, name, **spec):
    return netcfg.write("POST", BASE.format(c=c), user, json={"name": name, "spec": spec})


def test_drift_between_record_and_cluster_is_reported(netcfg, cluster):
    lab, api = cluster
    assert create(netcfg, lab.name, "tracked", cidr="10.90.0.0/16").status_code == 201
    co = client.CustomObjectsApi(api)
    co.patch_cluster_custom_object(G, V, "ippools", "tracked", {"spec": {"natOutgoing": True}})
    co.create_cluster_custom_object(G, V, "ippools", {
        "apiVersion": f"{G}/{V}", "kind": "IPPool", "metadata": {"name": "handmade"},
        "spec": {"cidr": "10.91.0.0/16", "blockSize": 26}})
    got = netcfg.call("GET", BASE.format(c=lab.name) + "/tracked").json()
    assert got["drift"] == {"kind": "changed", "differences": {
        "natOutgoing": {"recorded": False, "actual": True}}}
    drifts = wait_for(lambda: [e for e in netcfg.events("autorke.events.netcfg.ippool.drift_detected")
                               if e.data["cluster"] == lab.name] or None)
    wait_for(lambda: len(netcfg.events("autorke.events.netcfg.ippool.drift_detected")) >= 2)
    drifts = {e.data["pool"]: e.data for e in netcfg.events("autorke.events.netcfg.ippool.drift_detected")}
    assert drifts["tracked"]["kind"] == "changed"
    assert drifts["handmade"]["kind"] == "unmanaged"
    listed = {p["name"]: p for p in netcfg.call("GET", BASE.format(c=lab.name)).json()["items"]}
    assert listed["handmade"]["managed"] is False
    # announced once, not on every check
    import time
    time.sleep(1.5)
    assert len(netcfg.events("autorke.events.netcfg.ippool.drift_detected")) == 2


@pytest.mark.parametrize("user,status", [("operator", 403), ("admin", 200)])
def test_known_clusters_are_for_admins(netcfg, cluster, user, status):
    lab, _ = cluster
    r = netcfg.call("GET", "/api/v1/netcfg/clusters", user)
    assert r.status_code == status
    if status == 200:
        (known,) = [c for c in r.json()["items"] if c["name"] == lab.name]
        assert known["service_cidr"] == "10.43.0.0/16" and known["has_kubeconfig"] is True
        assert "kubeconfig_sealed" not in known
