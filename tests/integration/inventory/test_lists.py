"""Every inventory list is one shape: ``{"items", "next_cursor"}`` pages of ``limit`` that,
followed to the end, show each row once in order; a cursor the API did not give out (or
gave out for another order) is refused with 400 ``invalid-cursor``."""
from __future__ import annotations

import base64
import json
import uuid

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import LabCmdb


def pages(inv, path: str, limit: int, **params) -> tuple[list[dict], list[dict]]:
    """(every item, every page body) of a list read ``limit`` at a time."""
    items, bodies, cursor = [], [], None
    while True:
        r = inv.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {"items", "next_cursor"} <= set(body) and len(body["items"]) <= limit
        items += body["items"]
        bodies.append(body)
        if not (cursor := body["next_cursor"]):
            return items, bodies


def refuses_bad_cursors(inv, path: str, other_order: str) -> None:
    forged = base64.urlsafe_b64encode(json.dumps({"s": "name", "k": 7, "i": "x", "t": False}).encode()).decode()
    for cursor in ("!!", "bm90LWpzb24", other_order, forged):
        r = inv.get(path, params={"cursor": cursor})
        assert r.status_code == 400, (path, cursor, r.text)
        assert r.json()["type"].endswith("/invalid-cursor") and r.json()["field"] == "cursor"


def test_every_list_pages_each_row_once_and_refuses_a_cursor_it_did_not_give_out(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    names = [f"list-{i}" for i in (3, 1, 4, 0, 2)]
    for name in names:
        assert inv.post("/api/v1/clusters", json={"name": name, "provider": "rke"}).status_code == 201
    change = f"chg-{uuid.uuid4().hex[:8]}"
    commands = inv.client.app.state.inventory.commands
    members = [f"cmdb-{i:06d}" for i in range(1, 8)]
    for i, machine in enumerate(members):
        roles = ["etcd", "controlplane", "worker"] if i == 0 else ["worker"]
        env = Envelope.of(msg.AssignMembership(change_id=change, machine=machine, cluster="list-1", roles=roles),
                          source="orchestrator", correlation_id=change, actor="alice")
        assert commands.handle(sign(env)) == msg.MembershipChanged.TYPE
    store = msg.StoreConfig(change_id=change, cluster="list-1", kind="cluster.yml", render=True)
    for _ in range(5):
        env = Envelope.of(store, source="orchestrator", correlation_id=change, actor="alice")
        assert commands.handle(sign(env)) == msg.ConfigVersioned.TYPE

    clusters, bodies = pages(inv, "/api/v1/clusters", 2)
    assert [c["name"] for c in clusters] == sorted(names) and len(bodies) == 3
    assert {c["name"]: c["members"] for c in clusters}["list-1"] == len(members)

    nodes, body = pages(inv, "/api/v1/clusters/list-1/nodes", 3)
    assert sorted(n["id"] for n in nodes) == members and len(body) == 3
    assert [n["hostname"] for n in nodes] == sorted(n["hostname"] for n in nodes)
    assert all("node_status" in b for b in body)

    versions, _ = pages(inv, "/api/v1/clusters/list-1/configs/cluster.yml", 2)
    assert [v["version"] for v in versions] == [1, 2, 3, 4, 5]

    machines, _ = pages(inv, "/api/v1/machines", 100, sort="-ip")
    assert len(machines) == len({m["id"] for m in machines}) == 300

    by_rack = inv.get("/api/v1/machines", params={"limit": 1, "sort": "rack"}).json()["next_cursor"]
    refuses_bad_cursors(inv, "/api/v1/machines", by_rack)
    hostname_cursor = inv.get("/api/v1/clusters/list-1/nodes", params={"limit": 1}).json()["next_cursor"]
    refuses_bad_cursors(inv, "/api/v1/clusters", hostname_cursor)
    name_cursor = inv.get("/api/v1/clusters", params={"limit": 1}).json()["next_cursor"]
    refuses_bad_cursors(inv, "/api/v1/clusters/list-1/nodes", name_cursor)
    refuses_bad_cursors(inv, "/api/v1/clusters/list-1/configs/cluster.yml", name_cursor)
    for path in ("/api/v1/machines", "/api/v1/clusters", "/api/v1/clusters/list-1/nodes",
                 "/api/v1/clusters/list-1/configs/cluster.yml"):
        for limit in (0, 501):
            assert inv.get(path, params={"limit": limit}).status_code == 422, (path, limit)
