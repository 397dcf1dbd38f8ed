"""The CLI reads every list as ``{"items", "next_cursor"}``: ``pools list`` shows all of a
cluster's pools, page after page; ``machines list`` shows one page and says how to get the
next."""
from __future__ import annotations

import argparse
import json

import httpx

from autorke_console.adapters import rest_client
from autorke_console.entrypoints.cli import register

REAL_CLIENT = httpx.Client
POOLS = [{"name": f"pool-{i}", "spec": {"cidr": f"10.{i}.0.0/16", "blockSize": 26}} for i in range(3)]


def answer(request: httpx.Request) -> httpx.Response:
    cursor = request.url.params.get("cursor")
    if request.url.path.endswith("/clusters/lab/ippools"):  # two per page
        start = int(cursor or 0)
        after = str(start + 2) if start + 2 < len(POOLS) else None
        return httpx.Response(200, json={"items": POOLS[start:start + 2], "next_cursor": after})
    if request.url.path.endswith("/machines"):
        return httpx.Response(200, json={"items": [{"id": "m001", "hostname": "m001", "state": "ready"}],
                                         "next_cursor": "after-m001", "total": 2})
    return httpx.Response(404, json={"title": "Not Found"})


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(rest_client.httpx, "Client",
                        lambda **kw: REAL_CLIENT(transport=httpx.MockTransport(answer), **kw))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    code = args.func(args)
    return code, capsys.readouterr().out


def test_pools_list_follows_next_cursor_to_the_last_pool(monkeypatch, capsys):
    code, out = run(monkeypatch, capsys, "pools", "list", "--cluster", "lab", "-o", "json")
    assert code == 0
    assert json.loads(out) == {"items": POOLS, "next_cursor": None}
    code, out = run(monkeypatch, capsys, "pools", "list", "--cluster", "lab")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["pool-0", "pool-1", "pool-2"]


def test_machines_list_shows_one_page_and_how_to_get_the_next(monkeypatch, capsys):
    code, out = run(monkeypatch, capsys, "machines", "list", "--limit", "1")
    assert code == 0
    assert "m001" in out and out.rstrip().endswith("(more: --cursor after-m001)")
