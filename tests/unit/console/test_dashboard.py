"""What the dashboard counts, from the API's answers."""
from __future__ import annotations

from autorke_console.domain.dashboard import cluster_status, count_of, node_health


def test_a_lists_count_is_its_total_or_its_items_and_says_when_it_goes_on():
    assert str(count_of({"items": [{}], "total": 10_000})) == "10,000"
    assert str(count_of({"items": [{}, {}], "next_cursor": None})) == "2"
    assert str(count_of({"items": [{}] * 500, "next_cursor": "c"})) == "500+"
    assert count_of(None) is None


def test_node_health_counts_ready_notready_and_never_read():
    members = [{"kubernetes": {"node": {"status": "Ready"}}}, {"kubernetes": {"node": {"status": "NotReady"}}},
               {"kubernetes": {"node": None}}, {}]
    assert node_health(members) == {"members": 4, "ready": 1, "not_ready": 1, "unknown": 2}


def test_a_clusters_status_is_read_from_its_nodes():
    health = {"members": 3, "ready": 3, "not_ready": 0, "unknown": 0}
    assert cluster_status(health) == "healthy"
    assert cluster_status({**health, "ready": 2, "not_ready": 1}) == "degraded"
    assert cluster_status({**health, "ready": 0, "unknown": 3}) == "unknown"
    assert cluster_status({"members": 0, "ready": 0, "not_ready": 0, "unknown": 0}) == "empty"
