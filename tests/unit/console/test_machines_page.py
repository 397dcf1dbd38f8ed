"""The Machines page's pieces that need no browser: which actions each state offers in the
row menu, and the paging links that walk keyset cursors back and forth."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.requests import Request

from autorke_console.domain.actions import actions_for
from autorke_console.entrypoints.pages.machines import paging


@pytest.mark.parametrize(("machine", "offered"), [
    ({"state": "available", "cluster": None}, ["add", "init", "refresh"]),
    ({"state": "ready", "cluster": None}, ["add", "cleanup", "refresh"]),
    ({"state": "member", "cluster": "c1"}, ["remove", "update", "refresh"]),
    ({"state": "faulty", "cluster": "c1"}, ["remove", "refresh"]),
    ({"state": "faulty", "cluster": None}, ["cleanup", "refresh"]),
    ({"state": "initializing", "cluster": None}, ["refresh"]),
    ({"state": "retired", "cluster": None}, []),
])
def test_the_row_menu_offers_only_what_the_state_allows(machine, offered):
    assert actions_for(machine) == offered


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/ui/machines", "query_string": query.encode(),
                    "headers": []})


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_paging_walks_forward_and_back_with_the_range_of_each_page():
    first = paging(_request("q=gpu&limit=25"), 25, 25, "c1")
    assert (first["first"], first["last"], first["previous"]) == (1, 25, None)
    assert _query(first["next"]) == {"q": ["gpu"], "limit": ["25"], "cursor": ["c1"], "trail": ["-"]}

    second = paging(_request(urlsplit(first["next"]).query), 25, 25, "c2")
    assert (second["first"], second["last"]) == (26, 50)
    assert _query(second["next"])["trail"] == ["-", "c1"] and _query(second["next"])["cursor"] == ["c2"]
    assert _query(second["previous"]) == {"q": ["gpu"], "limit": ["25"]}, "back to the first page: no cursor"

    third = paging(_request(urlsplit(second["next"]).query), 25, 7, None)
    assert (third["first"], third["last"], third["next"]) == (51, 57, None)
    assert _query(third["previous"]) == {"q": ["gpu"], "limit": ["25"], "cursor": ["c1"], "trail": ["-"]}
    assert paging(_request(""), 50, 0, None)["first"] == 0, "an empty page shows 0–0"
