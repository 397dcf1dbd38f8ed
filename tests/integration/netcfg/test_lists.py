"""netcfg's lists as every AutoRKE list answers: a page ``{"items", "next_cursor"}``, in a
total order, walked with ``limit`` and ``cursor`` without skipping or repeating anything,
and a cursor this API did not give out refused with 400 ``invalid-cursor``."""
from __future__ import annotations

from .test_flatten import plan

POOLS = "/api/v1/clusters/{c}/ippools"


def walk(netcfg, path: str, user: str, limit: int, **params) -> list[list[str]]:
    """The names (or ids) on each page, following ``next_cursor`` to the end."""
    pages, cursor = [], None
    while True:
        body = netcfg.call("GET", path, user, params={**params, "limit": limit,
                                                      **({"cursor": cursor} if cursor else {})}).json()
        assert set(body) == {"items", "next_cursor"}
        pages.append([item.get("name") or item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_pools_and_tickets_come_in_pages(netcfg, cluster):
    lab, _ = cluster
    for i, cidr in enumerate(("10.60.0.0/16", "10.61.0.0/16", "10.62.0.0/16")):
        body = {"name": f"p{i}", "spec": {"cidr": cidr}}
        assert netcfg.write("POST", POOLS.format(c=lab.name), json=body).status_code == 201
    assert walk(netcfg, POOLS.format(c=lab.name), "viewer", 2) == [["p0", "p1"], ["p2"]]
    ids = [plan(netcfg, lab.name, nodes=["w1"], route_reflectors=[], as_numbers={},
                pool={"name": f"flat{i}", "spec": {"cidr": f"10.{100 + i}.0.0/16"}}).json()["id"]
           for i in range(3)]
    pages = walk(netcfg, "/api/v1/tickets", "viewer", 2, cluster=lab.name)
    assert [len(p) for p in pages] == [2, 1]
    assert [t for page in pages for t in page] == list(reversed(ids))   # newest first
    (known,) = walk(netcfg, "/api/v1/netcfg/clusters", "admin", 10)
    assert lab.name in known


def test_a_cursor_not_given_out_here_is_refused(netcfg, cluster):
    lab, _ = cluster
    for path, user in ((POOLS.format(c=lab.name), "viewer"), ("/api/v1/tickets", "viewer"),
                       ("/api/v1/netcfg/clusters", "admin")):
        r = netcfg.call("GET", path, user, params={"cursor": "not-ours"})
        assert r.status_code == 400 and r.json()["type"].endswith("/invalid-cursor"), (path, r.text)
        assert r.json()["field"] == "cursor"
