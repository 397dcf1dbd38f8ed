"""A change's lifecycle marks carry ordinals in the order they were made, whichever replica
made them: each is larger than the change's last, even when this replica's clock is behind
the one that made the last (the inventory applies the newest and drops older ones)."""
from __future__ import annotations

from autorke_common.envelope import utcnow
from autorke_orchestrator.domain.model import Change, Step
from autorke_orchestrator.domain.orders import lifecycle_marks


def _ordinal(change: Change, step: Step, state: str) -> int:
    [order] = lifecycle_marks(change, step, state, ["m001"], 1)
    return order.job.params["ordinal"]


def test_each_mark_of_a_change_is_newer_than_the_last_whatever_the_clock():
    change = Change("chg-1", "node.remove", "c1", ["m001"], {}, "alice", "manual", [], ["m001"], [])
    step = Step("cordon", "cordon", "action", 1)
    first, second = _ordinal(change, step, "draining"), _ordinal(change, step, "removing")
    assert first < second == change.last_mark, "two marks in one unit of work"
    ahead = int(utcnow().timestamp() * 1_000_000) + 3_600_000_000  # made by a replica an hour ahead
    change.last_mark = ahead
    assert _ordinal(change, step, "cleaning") == ahead + 1, "this replica's clock is behind: still newer"
