"""The Machines page's API: server-side filters, sort and keyset cursors over synced CMDB
data; the public machine JSON; problem+json for bad input; auth; ETag / If-Match."""
from __future__ import annotations

from collections import Counter

from fixtures import kubeconfigs

from .conftest import LabCmdb

CONTRACT = {"id", "hostname", "ip", "state", "cluster", "roles", "labels", "taints",
            "hardware", "software", "kubernetes", "network"}


def test_filters_sort_and_cursor_pages_cover_each_machine_once(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    records = [cmdb.inventory.get(f"cmdb-{i:06d}") for i in range(1, 301)]
    gpus = Counter(r["hardware"]["gpu"]["model"] for r in records if r["hardware"]["gpu"]["model"])
    model, count = gpus.most_common(1)[0]

    seen, cursor = [], None
    while True:
        page = inv.get("/api/v1/machines", params={"gpu_model": model, "limit": 7, "sort": "-rack",
                                                   **({"cursor": cursor} if cursor else {})}).json()
        assert page["total"] == count
        seen += [(m["network"]["rack"], m["id"]) for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == count == len(set(seen))
    assert seen == sorted(seen, reverse=True)

    one = inv.get("/api/v1/machines", params={"q": records[5]["hostname"].upper()}).json()
    assert records[5]["id"] in [m["id"] for m in one["items"]]
    rack = records[9]["rack"]
    by_rack = inv.get("/api/v1/machines", params={"rack": rack, "state": "available"}).json()
    assert by_rack["total"] == sum(1 for r in records if r["rack"] == rack)
    machine = by_rack["items"][0]
    assert CONTRACT <= set(machine)
    assert {"cpu", "memory_gb", "gpu", "disks"} <= set(machine["hardware"])
    assert {"os", "kernel", "container_runtime", "gpu_driver"} <= set(machine["software"])


def test_free_text_pages_cover_each_match_once_whichever_way_the_page_is_found(
        make_inventory, cmdb: LabCmdb, monkeypatch):
    """Few matches are paged from the matches themselves (the search index), many by walking
    the sort order: the same pages either way, each match once, in order."""
    from autorke_inventory.adapters import repository

    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    everything = inv.get("/api/v1/machines", params={"q": "m1", "limit": 500}).json()
    expected = sorted((m["hostname"] for m in everything["items"]), reverse=True)
    assert 7 < everything["total"] == len(expected) <= repository.FEW_MATCHES

    def paged() -> list[str]:
        seen, cursor = [], None
        while True:
            page = inv.get("/api/v1/machines", params={"q": "M1", "limit": 7, "sort": "-hostname",
                                                       **({"cursor": cursor} if cursor else {})}).json()
            assert page["total"] == len(expected)
            seen += [m["hostname"] for m in page["items"]]
            if not (cursor := page["next_cursor"]):
                return seen

    assert paged() == expected
    monkeypatch.setattr(repository, "FEW_MATCHES", 0)  # as if there were thousands of matches
    assert paged() == expected


def test_hostnames_sort_naturally_and_search_finds_os_vendor_cpu_and_gpu_substrings(make_inventory, cmdb: LabCmdb):
    """``m2`` before ``m10`` (also across pages and reversed); any substring of the OS, the
    vendor, the CPU or the GPU model finds the machine; the state counts add up to the
    matches whatever the state filter."""
    for name in ("rack9-gpu10", "rack9-gpu2", "rack9-gpu1", "rack10-gpu1"):
        cmdb.inventory.add({"hostname": name})
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    natural = ["rack9-gpu1", "rack9-gpu2", "rack9-gpu10", "rack10-gpu1"]
    seen, cursor = [], None
    while True:
        page = inv.get("/api/v1/machines", params={"q": "RACK", "limit": 3, **({"cursor": cursor} if cursor else {})})
        seen += [m["hostname"] for m in page.json()["items"]]
        if not (cursor := page.json()["next_cursor"]):
            break
    assert seen == natural
    down = inv.get("/api/v1/machines", params={"q": "rack", "sort": "-hostname"}).json()["items"]
    assert [m["hostname"] for m in down] == natural[::-1]

    record = next(r for r in map(cmdb.inventory.get, (f"cmdb-{i:06d}" for i in range(40, 301)))
                  if r["hardware"]["gpu"]["model"])
    hw = record["hardware"]
    for needle in (hw["cpu"]["model"][2:9], record["os"]["name"][1:6], hw["vendor"][1:], hw["gpu"]["model"][3:10]):
        found = inv.get("/api/v1/machines", params={"q": needle.upper(), "limit": 500}).json()
        assert record["id"] in [m["id"] for m in found["items"]], needle

    part = hw["gpu"]["model"].split()[-1].lower()  # "H800" finds "NVIDIA H800"
    by_part = inv.get("/api/v1/machines", params={"gpu_model": part, "limit": 500}).json()
    everyone = [cmdb.inventory.get(f"cmdb-{i:06d}") for i in range(1, 305)]  # the four added too
    assert by_part["total"] == sum(1 for r in everyone if part in (r["hardware"]["gpu"]["model"] or "").lower()) > 0

    every = inv.get("/api/v1/machines", params={"limit": 1}).json()
    assert sum(every["state_counts"].values()) == every["total"] and every["state_counts"]["available"]
    available = inv.get("/api/v1/machines", params={"state": "available", "limit": 1}).json()
    assert available["state_counts"] == every["state_counts"], "the chips count every state"
    assert available["total"] == every["state_counts"]["available"]


def test_bad_input_gets_problem_json_and_auth_is_required(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    for params, status, slug in [({"state": "melted"}, 422, "invalid-request"),
                                 ({"sort": "colour"}, 422, "invalid-request"),
                                 ({"role": "master"}, 422, "invalid-request"),
                                 ({"limit": 0}, 422, "invalid-request"),
                                 ({"cursor": "!!"}, 400, "invalid-cursor")]:
        r = inv.get("/api/v1/machines", params=params)
        assert r.status_code == status and r.headers["content-type"].startswith(
            "application/problem+json") and r.json()["type"].endswith(slug), (params, r.text)
    assert inv.client.get("/api/v1/machines").status_code == 401
    assert inv.post("/api/v1/machines:sync", user="viewer", json={}).status_code == 403
    assert inv.get("/api/v1/machines/nope").json()["type"].endswith("not-found")
    bad = inv.post("/api/v1/clusters", json={"name": "c1", "provider": "rke",
                                             "pod_cidr": "10.42.0.1/16"})
    assert bad.status_code == 422 and inv.get("/api/v1/clusters").json()["items"] == []


def test_cluster_update_needs_the_current_etag(make_inventory, events):
    inv = make_inventory()
    created = inv.post("/api/v1/clusters", json={"name": "etag-c", "provider": "rke2",
                                                 "host_networks": ["10.0.0.0/16"],
                                                 "kubeconfig": kubeconfigs.text(kubeconfigs.token_doc())})
    etag = created.headers["ETag"]
    assert "kubeconfig" not in created.json()
    assert inv.patch("/api/v1/clusters/etag-c", json={"bgp_as": 64600}).status_code == 428
    assert inv.patch("/api/v1/clusters/etag-c", json={"bgp_as": 64600},
                     headers={"If-Match": 'W/"99"'}).status_code == 412
    ok = inv.patch("/api/v1/clusters/etag-c", json={"bgp_as": 64600}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json()["bgp_as"] == 64600 and ok.headers["ETag"] != etag
    seen = events.wait_for(lambda ms: any(m["type"] == "inventory.cluster.updated"
                                          and m["data"]["name"] == "etag-c" for m in ms))
    updated = [m for m in seen if m["type"] == "inventory.cluster.updated"][-1]["data"]
    assert updated["bgp_as"] == 64600 and updated["host_networks"] == ["10.0.0.0/16"]
    assert updated["kubeconfig_sealed"] and "kind: Config" not in updated["kubeconfig_sealed"]
