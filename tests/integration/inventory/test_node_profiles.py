"""Node profiles and the CMDB label mapping (issue 18) through the REST API, on a real
database and the real bus: versions stored and announced (the event carries the whole
spec), read back, listed, diffed; a refused spec answers problem+json naming the field
and stores and announces nothing; a write on a version the caller did not read is a
conflict; and the machine events of a CMDB sync carry the facts labels come from."""
from __future__ import annotations

import json

from sqlalchemy import select

from autorke_common.catalogue import inventory as msg
from autorke_common.errors import PROBLEM_CONTENT_TYPE
from autorke_common.node_profiles import DEFAULT_MAPPING, DEFAULT_PROFILE

from .conftest import LabCmdb

PROFILES = "/api/v1/clusters/{}/node-profiles"
MAPPING = "/api/v1/clusters/{}/label-mapping"


def register(inv, name: str, provider: str = "rke2") -> None:
    r = inv.post("/api/v1/clusters", json={"name": name, "provider": provider})
    assert r.status_code == 201, r.text


def outbox(inv, cluster: str) -> list[dict]:
    """The NodeProfileVersioned events of ``cluster`` in the service's outbox (published or not)."""
    db = inv.client.app.state.runtime.db
    with db.engine.connect() as conn:
        payloads = conn.execute(select(db.tables.outbox.c.payload).order_by(db.tables.outbox.c.seq)).scalars()
        envelopes = [json.loads(p) for p in payloads]
    return [e["data"] for e in envelopes
            if e["type"] == msg.NodeProfileVersioned.TYPE and e["data"]["cluster"] == cluster]


def test_profiles_are_versioned_listed_diffed_and_announced(make_inventory, events, identity):
    inv = make_inventory()
    register(inv, "np")
    listed = inv.get(PROFILES.format("np")).json()
    assert listed["next_cursor"] is None
    [builtin] = listed["items"]
    assert (builtin["name"], builtin["version"], builtin["builtin"]) == ("default", 0, True)
    assert builtin["spec"] == DEFAULT_PROFILE.model_dump()

    spec = {"labels": {"team": "ml"}, "kubelet": {"max_pods": 200}}
    first = inv.put(PROFILES.format("np") + "/default", json={"spec": spec, "comment": "more pods"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert set(body) == {"cluster", "kind", "name", "version", "spec", "created_by", "created_at", "comment",
                         "builtin"}
    assert (body["version"], body["builtin"], body["comment"]) == (1, False, "more pods")
    assert body["created_by"] == identity.subject("operator")
    assert body["spec"]["kubelet"]["max_pods"] == 200 and body["spec"]["init_profile"] == "container-runtime"

    same = inv.put(PROFILES.format("np") + "/default", json={"spec": spec})
    assert same.status_code == 200 and same.json()["version"] == 1  # nothing stored
    gpu = inv.put(PROFILES.format("np") + "/gpu", json={"spec": {"init_profile": "gpu"}, "expected_version": 0})
    assert gpu.status_code == 201 and gpu.json()["version"] == 1
    second = inv.put(PROFILES.format("np") + "/default",
                     json={"spec": {**spec, "kubelet": {"max_pods": 250}}, "expected_version": 1})
    assert second.status_code == 201 and second.json()["version"] == 2

    latest = inv.get(PROFILES.format("np")).json()["items"]
    assert [(p["name"], p["version"], p["builtin"]) for p in latest] == [("default", 2, False), ("gpu", 1, False)]
    one = inv.get(PROFILES.format("np") + "/default", params={"version": 1}).json()
    assert one["spec"] == body["spec"]
    assert inv.get(PROFILES.format("np") + "/default", params={"version": 0}).json()["builtin"] is True
    assert inv.get(PROFILES.format("np") + "/default").json()["version"] == 2
    versions = inv.get(PROFILES.format("np") + "/default/versions").json()
    assert [v["version"] for v in versions["items"]] == [0, 1, 2] and "spec" not in versions["items"][1]
    diff = inv.get(PROFILES.format("np") + "/default:diff", params={"from": 1, "to": 2}).json()
    assert (diff["from"], diff["to"], diff["name"]) == (1, 2, "default")
    assert "-  max_pods: 200\n" in diff["diff"] and "+  max_pods: 250\n" in diff["diff"]
    assert "+  team: ml\n" in inv.get(PROFILES.format("np") + "/default:diff",
                                      params={"from": 0, "to": 1}).json()["diff"]

    stored = outbox(inv, "np")
    assert [(e["name"], e["version"]) for e in stored] == [("default", 1), ("gpu", 1), ("default", 2)]
    seen = events.wait_for(lambda ms: len([m for m in ms if m["type"] == msg.NodeProfileVersioned.TYPE
                                           and m["data"]["cluster"] == "np"]) == 3)
    on_bus = next(m["data"] for m in seen if m["type"] == msg.NodeProfileVersioned.TYPE
                  and m["data"]["version"] == 1 and m["data"]["name"] == "default")
    assert on_bus["spec"] == body["spec"] and on_bus["kind"] == "node-profile"
    assert (on_bus["created_by"], on_bus["comment"]) == (identity.subject("operator"), "more pods")


def test_refused_profiles_name_the_field_and_store_and_announce_nothing(make_inventory):
    inv = make_inventory()
    register(inv, "np-two")
    register(inv, "np-one", provider="rke")
    refused = [("np-two", "default", {"labels": {"Bad Key!": "x"}}, "spec.labels.Bad Key!"),
               ("np-two", "default", {"kubelet": {"max_pods": 5}}, "spec.kubelet.max_pods"),
               ("np-one", "default", {"kubelet": {"max_pods": 110}}, "spec.kubelet"),  # RKE1: none per node
               ("np-two", "Bad_Name", {}, "name")]
    for cluster, name, spec, field in refused:
        r = inv.put(PROFILES.format(cluster) + f"/{name}", json={"spec": spec})
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
        problem = r.json()
        assert (problem["type"], problem["field"]) == ("https://autorke.dev/problems/invalid-node-profile", field)
    for cluster in ("np-two", "np-one"):
        versions = inv.get(PROFILES.format(cluster) + "/default/versions").json()["items"]
        assert [v["version"] for v in versions] == [0]  # the built-in one only
        assert outbox(inv, cluster) == []
    assert inv.put(PROFILES.format("np-one") + "/default", json={"spec": {"labels": {"a": "b"}}}).status_code == 201
    assert inv.put(PROFILES.format("nowhere") + "/default", json={"spec": {}}).status_code == 404
    assert inv.get(PROFILES.format("nowhere")).status_code == 404
    assert inv.get(PROFILES.format("np-two") + "/missing").status_code == 404


def test_a_write_on_a_version_the_caller_did_not_read_is_a_conflict(make_inventory):
    inv = make_inventory()
    register(inv, "np-race")
    path = PROFILES.format("np-race") + "/default"
    assert inv.put(path, json={"spec": {"labels": {"a": "1"}}, "expected_version": 0}).status_code == 201
    stale = inv.put(path, json={"spec": {"labels": {"a": "2"}}, "expected_version": 0})
    assert stale.status_code == 409 and stale.json()["type"].endswith("/version-conflict")
    assert inv.get(path).json()["spec"]["labels"] == {"a": "1"} and len(outbox(inv, "np-race")) == 1
    assert inv.put(path, json={"spec": {"labels": {"a": "2"}}, "expected_version": 1}).status_code == 201


def test_a_viewer_reads_profiles_but_does_not_write_them(make_inventory):
    inv = make_inventory()
    register(inv, "np-view")
    assert inv.put(PROFILES.format("np-view") + "/default", user="viewer", json={"spec": {}}).status_code == 403
    assert inv.put(MAPPING.format("np-view"), user="viewer", json={"spec": {}}).status_code == 403
    assert inv.get(MAPPING.format("np-view"), user="viewer").status_code == 200
    assert outbox(inv, "np-view") == []


def test_the_label_mapping_is_versioned_from_the_builtin_one(make_inventory):
    inv = make_inventory()
    register(inv, "lm")
    builtin = inv.get(MAPPING.format("lm")).json()
    assert (builtin["version"], builtin["builtin"], builtin["spec"]) == (0, True, DEFAULT_MAPPING.model_dump())
    bad = inv.put(MAPPING.format("lm"), json={"spec": {"rack": "not a key!"}})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/invalid-label-mapping")
    assert bad.json()["field"] == "spec.rack" and outbox(inv, "lm") == []

    spec = {"rack": "example.com/rack", "fixed": {"dc": "sh"},
            "gpu_taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]}
    stored = inv.put(MAPPING.format("lm"), json={"spec": spec, "comment": "our racks"})
    assert stored.status_code == 201 and stored.json()["version"] == 1
    assert stored.json()["name"] == "default" and stored.json()["kind"] == "label-mapping"
    assert inv.get(MAPPING.format("lm")).json()["spec"]["rack"] == "example.com/rack"
    assert [v["version"] for v in inv.get(MAPPING.format("lm") + "/versions").json()["items"]] == [0, 1]
    diff = inv.get(MAPPING.format("lm") + ":diff", params={"from": 0, "to": 1}).json()["diff"]
    assert "-rack: topology.kubernetes.io/zone\n" in diff and "+rack: example.com/rack\n" in diff
    [event] = outbox(inv, "lm")
    assert (event["kind"], event["name"], event["spec"]) == ("label-mapping", "default", stored.json()["spec"])


def test_machine_events_carry_the_facts_labels_come_from(make_inventory, cmdb: LabCmdb, events):
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    gpu = next(r for r in (cmdb.inventory.get(f"cmdb-{i:06d}") for i in range(1, 301))
               if (r["hardware"].get("gpu") or {}).get("count"))
    seen = events.wait_for(lambda ms: any(m["type"] == msg.MachineAdded.TYPE and m["data"]["machine"] == gpu["id"]
                                          for m in ms))
    added = next(m["data"] for m in seen if m["type"] == msg.MachineAdded.TYPE and m["data"]["machine"] == gpu["id"])
    assert added["facts"] == {"rack": gpu["rack"], "idc": gpu["idc"], "gpu_model": gpu["hardware"]["gpu"]["model"],
                              "gpu_count": gpu["hardware"]["gpu"]["count"]}

    cmdb.inventory.change(gpu["id"], {"rack": "SH-R999"})
    assert inv.post("/api/v1/machines:sync", json={"mode": "incremental", "wait": True}).status_code == 200
    seen = events.wait_for(lambda ms: any(m["type"] == msg.MachineUpdated.TYPE and m["data"]["machine"] == gpu["id"]
                                          for m in ms))
    updated = next(m["data"] for m in seen if m["type"] == msg.MachineUpdated.TYPE
                   and m["data"]["machine"] == gpu["id"])
    assert updated["facts"] == {**added["facts"], "rack": "SH-R999"}
