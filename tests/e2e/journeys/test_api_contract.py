"""One list contract across every service (issue 16), read from the running platform's
merged OpenAPI document: every GET of the public API that answers a collection answers
``{"items": [...], "next_cursor": ...}``, takes ``limit`` and ``cursor``, pages (``limit=1``
then the cursor it gave: the next item, never the same one), and refuses a cursor it did
not give out with 400 ``invalid-cursor`` on the ``cursor`` field. No GET answers a bare
array."""
from __future__ import annotations

from typing import Any

from .conftest import Platform, problem

#: The collections each service owns; the contract must have found at least these.
KNOWN_LISTS = {
    "/api/v1/machines", "/api/v1/clusters", "/api/v1/clusters/{name}/nodes",
    "/api/v1/clusters/{name}/configs/{kind}", "/api/v1/changes", "/api/v1/changes/{change_id}/history",
    "/api/v1/jobs", "/api/v1/netcfg/clusters", "/api/v1/clusters/{cluster}/ippools", "/api/v1/tickets",
    "/api/v1/clusters/{cluster}/node-profiles", "/api/v1/clusters/{cluster}/node-profiles/{profile}/versions",
    "/api/v1/clusters/{cluster}/label-mapping/versions",
}
SKIP = {"/api/v1/events", "/api/v1/openapi.json"}  # the event stream (SSE) and the document itself


def _a_change(p: Platform) -> str:
    """A change to read the history of: one made and cancelled here (nothing runs)."""
    worker = min(h for h, roles in p.members("rke2-lab").items() if roles == ["worker"])
    r = p.change(type="node.update", cluster="rke2-lab", targets=[worker],
                 params={"labels": {"example.com/contract": "yes"}})
    assert r.status_code == 201, r.text
    change = r.json()["id"]
    p.wait_change(change, "awaiting_approval", timeout=120)
    assert p.call("POST", f"changes/{change}:cancel").status_code == 200
    return change


def _path(template: str, fill: dict[str, str]) -> str | None:
    try:
        return template.format(**fill).removeprefix("/api/v1/")
    except KeyError:
        return None


def test_every_list_answers_items_and_next_cursor_pages_and_refuses_a_bad_cursor(platform: Platform):
    spec = platform.call("GET", "openapi.json", "viewer").json()
    fill = {"name": "rke1-lab", "cluster": "rke2-lab", "kind": "cluster.yml", "key": platform.machine_names()[0],
            "change_id": _a_change(platform), "profile": "default"}
    lists: set[str] = set()
    unfilled: list[str] = []
    for template, ops in sorted(spec["paths"].items()):
        if "get" not in ops or template in SKIP or not template.startswith("/api/v1/") or ":" in template:
            continue  # ``…:diff``, ``…:render``: computed answers with their own required inputs, not collections
        path = _path(template, fill)
        if path is None:
            unfilled.append(template)
            continue
        query = {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}
        r = platform.call("GET", path, "admin")
        assert r.status_code == 200, f"GET {template}: {r.status_code} {r.text[:300]}"
        body: Any = r.json()
        assert not isinstance(body, list), f"GET {template} answers a bare array"
        if "items" not in body and "cursor" not in query:
            continue
        lists.add(template)
        assert isinstance(body.get("items"), list) and "next_cursor" in body, f"GET {template}: {sorted(body)}"
        assert {"limit", "cursor"} <= query, f"GET {template} takes {sorted(query)}"
        bad = platform.call("GET", path, "admin", params={"cursor": "not-one-of-ours"})
        assert bad.status_code == 400 and problem(bad) == "invalid-cursor", f"GET {template}: {bad.text[:300]}"
        assert bad.json().get("field") == "cursor"
        first = platform.call("GET", path, "admin", params={"limit": 1}).json()
        assert len(first["items"]) <= 1
        if len(body["items"]) > 1:
            assert first["next_cursor"], f"GET {template}: more items than the limit and no next_cursor"
            second = platform.call("GET", path, "admin", params={"limit": 1, "cursor": first["next_cursor"]}).json()
            assert second["items"] and second["items"] != first["items"], f"GET {template} pages in place"
    missing = KNOWN_LISTS - lists
    assert not missing, f"lists not found or not paged: {sorted(missing)} (unfilled paths: {unfilled})"
