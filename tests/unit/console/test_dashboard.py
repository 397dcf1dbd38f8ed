"""What the dashboard counts, from the API's answers."""
from __future__ import annotations

from autorke_console.domain.dashboard import count_of, node_health


def test_a_lists_count_is_its_total_or_its_items_and_says_when_it_goes_on():
    assert str(count_of({"items": [{}], "total": 10_000})) == "10,000"
    assert str(count_of({"items": [{}, {}], "next_cursor": None})) == "2"
    assert str(count_of({"items": [{}] * 500, "next_cursor": "c"})) == "500+"
    assert count_of(None) is None


def test_node_health_counts_ready_notready_and_never_read():
    members = [{"kubernetes": {"node": {"status": "Ready"}}}, {"kubernetes": {"node": {"status": "NotReady"}}},
               {"kubernetes": {"node": None}}, {}]
    assert node_health(members) == {"members": 4, "ready": 1, "not_ready": 1, "unknown": 2}
