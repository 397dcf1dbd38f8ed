"""The REST kit's cursor and page, and the one mapping of domain refusals to HTTP."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from autorke_common.errors import Broken, Conflict, Forbidden, Invalid, Missing, Problem, is_permanent, problem_of
from autorke_common.rest import Cursor, page_of


def test_a_cursor_comes_back_as_it_was_given_out():
    at = datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)
    for key in (at, "m017", 42, None):
        token = Cursor("-created_at", key, "chg-9").encode()
        assert Cursor.decode(token, "-created_at") == Cursor("-created_at", key, "chg-9")
    assert Cursor.decode(None) is None and Cursor.decode("") is None


@pytest.mark.parametrize("token", ["not-a-cursor", "e30", "W10", "eyJzIjogMX0", "%%%"])
def test_a_cursor_not_given_out_here_is_a_400_on_the_cursor_field(token):
    with pytest.raises(Problem) as refused:
        Cursor.decode(token)
    assert (refused.value.slug, refused.value.status, refused.value.extensions) == (
        "invalid-cursor", 400, {"field": "cursor"})


def test_a_cursor_of_another_order_is_refused():
    token = Cursor("hostname", "m001", "id-1").encode()
    with pytest.raises(Problem) as refused:
        Cursor.decode(token, "-hostname")
    assert refused.value.slug == "invalid-cursor"


def test_page_of_gives_a_next_cursor_only_when_a_row_is_left():
    rows = [("a", "1"), ("a", "2"), ("b", "3")]
    full = page_of(rows, 2, key=lambda r: r, sort="name", view=lambda r: r[1])
    assert full.items == ["1", "2"]
    assert Cursor.decode(full.next_cursor, "name") == Cursor("name", "a", "2")
    last = page_of(rows[2:], 2, key=lambda r: r, sort="name")
    assert last.model_dump() == {"items": [("b", "3")], "next_cursor": None}


def test_each_domain_refusal_has_one_status_and_keeps_its_slug_and_field():
    cases = [(Invalid, 422), (Conflict, 409), (Forbidden, 403), (Missing, 404), (Broken, 500)]
    for kind, status in cases:
        problem = problem_of(kind("some-rule", "why it refused", field="labels"))
        assert (problem.slug, problem.status, problem.detail, problem.extensions) == (
            "some-rule", status, "why it refused", {"field": "labels"})
        assert problem.title == "Some rule"
    assert is_permanent(Conflict("x", "y")) and not is_permanent(Broken("x", "y"))
    assert is_permanent(Problem("x", "X", 422)) and not is_permanent(Problem("x", "X", 503))
    assert not is_permanent(RuntimeError("connection reset"))
