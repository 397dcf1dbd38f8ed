"""The CMDB over HTTP: paging and the ``since`` cursor return every machine once, and
changes made through the write endpoints appear in the next incremental page."""
from __future__ import annotations

import httpx


def full_sync(base: str, since: int = 0, limit: int = 1000) -> tuple[list[dict], int]:
    items: list[dict] = []
    while True:
        page = httpx.get(f"{base}/api/v1/hosts/changes", params={"since": since, "limit": limit}).json()
        items += page["items"]
        since = page["next_since"]
        if not page["has_more"]:
            return items, since


def test_paging_returns_every_machine_once(lab):
    seen: list[str] = []
    page_no = 1
    while True:
        page = httpx.get(f"{lab.cmdb_url}/api/v1/hosts", params={"page": page_no, "page_size": 1000}).json()
        if not page["items"]:
            break
        seen += [r["id"] for r in page["items"]]
        page_no += 1
    assert len(seen) == len(set(seen)) == page["total"] >= 10_000
    first = httpx.get(f"{lab.cmdb_url}/api/v1/hosts", params={"page_size": len(lab.machines)}).json()
    assert [r["hostname"] for r in first["items"]] == [m["name"] for m in lab.machines]
    assert all(r["ssh"]["host_key"] for r in first["items"])


def test_since_returns_every_machine_once_then_only_changes(lab):
    items, cursor = full_sync(lab.cmdb_url)
    ids = [r["id"] for r in items]
    assert len(ids) == len(set(ids)) >= 10_000
    assert full_sync(lab.cmdb_url, cursor)[0] == []

    added = httpx.post(f"{lab.cmdb_url}/api/v1/hosts", json={"hostname": "new-gpu-01",
                                                            "labels": {"pool": "a100"}})
    assert added.status_code == 201
    changed = httpx.patch(f"{lab.cmdb_url}/api/v1/hosts/cmdb-000200",
                          json={"owner": {"team": "new-team"}, "rack": "SH-R999"})
    assert changed.status_code == 200
    retired = httpx.post(f"{lab.cmdb_url}/api/v1/hosts/cmdb-000300/retire")
    assert retired.status_code == 200

    delta, cursor2 = full_sync(lab.cmdb_url, cursor, limit=2)
    by_id = {r["id"]: r for r in delta}
    assert len(delta) == 3 and cursor2 > cursor
    assert by_id[added.json()["id"]]["labels"] == {"pool": "a100"}
    assert by_id["cmdb-000200"]["owner"] == {"team": "new-team",
                                             "contact": by_id["cmdb-000200"]["owner"]["contact"]}
    assert by_id["cmdb-000300"]["status"] == "retired"
    assert full_sync(lab.cmdb_url, cursor2)[0] == []

    # a record changed twice appears once, at its newest revision
    httpx.patch(f"{lab.cmdb_url}/api/v1/hosts/cmdb-000200", json={"rack": "SH-R998"})
    httpx.patch(f"{lab.cmdb_url}/api/v1/hosts/cmdb-000200", json={"rack": "SH-R997"})
    delta, _ = full_sync(lab.cmdb_url, cursor2)
    assert [(r["id"], r["rack"]) for r in delta] == [("cmdb-000200", "SH-R997")]

    active = httpx.get(f"{lab.cmdb_url}/api/v1/hosts", params={"page_size": 1000}).json()["total"]
    everything = httpx.get(f"{lab.cmdb_url}/api/v1/hosts",
                           params={"page_size": 1, "include_retired": True}).json()["total"]
    assert everything == active + 1


def test_inventory_is_deterministic_from_the_seed():
    from autorke_lab.cmdb.inventory import Inventory

    a = Inventory.generate(seed=7, size=50, running=[])
    b = Inventory.generate(seed=7, size=50, running=[])
    c = Inventory.generate(seed=8, size=50, running=[])
    strip = lambda inv: [{k: v for k, v in r.items() if k != "updated_at"}
                         for r in inv.page(1, 50)[0]]
    assert strip(a) == strip(b) != strip(c)


def test_unknown_host_is_404(lab):
    assert httpx.get(f"{lab.cmdb_url}/api/v1/hosts/nope").status_code == 404
    assert httpx.patch(f"{lab.cmdb_url}/api/v1/hosts/nope", json={}).status_code == 404
