"""When a pool record may be judged for drift, and what the drift is: pure rules, no
database or cluster (the interleavings themselves are driven against the real parts in
tests/integration/netcfg/test_drift.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autorke_netcfg.domain.drift import WriteMark, judge, settled
from autorke_netcfg.domain.pool_rules import Pool

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
GRACE = 600.0
SPEC = Pool("p", "10.50.0.0/16", 26).spec()


def test_a_record_that_held_still_with_no_write_in_flight_is_judged():
    assert settled(None, None, NOW, GRACE)                      # a pool netcfg never wrote
    done = WriteMark("w1", None)
    assert settled(done, done, NOW, GRACE)


def test_a_write_in_flight_defers_the_judgement():
    flying = WriteMark("w1", NOW - timedelta(seconds=5))
    assert not settled(flying, flying, NOW, GRACE)


def test_a_write_begun_or_ended_while_the_cluster_was_read_defers_it():
    assert not settled(None, WriteMark("w1", NOW), NOW, GRACE)              # created
    assert not settled(WriteMark("w1", NOW), WriteMark("w1", None), NOW, GRACE)  # finished
    assert not settled(WriteMark("w1", None), WriteMark("w2", None), NOW, GRACE)  # a whole write
    assert not settled(WriteMark("w1", None), None, NOW, GRACE)             # row removed


def test_a_write_whose_writer_died_is_judged_after_the_grace_period():
    stale = WriteMark("w1", NOW - timedelta(seconds=GRACE + 1))
    assert settled(stale, stale, NOW, GRACE)
    naive = WriteMark("w1", (NOW - timedelta(hours=1)).replace(tzinfo=None))  # as SQLite reads
    assert settled(naive, naive, NOW, GRACE)


def test_judge_names_each_kind_of_drift():
    assert judge(SPEC, SPEC) is None
    assert judge({}, None) is None
    assert judge({}, SPEC) == {"kind": "unmanaged", "differences": {}}
    assert judge(SPEC, None) == {"kind": "missing", "differences": {}}
    assert judge(SPEC, {**SPEC, "natOutgoing": True}) == {
        "kind": "changed", "differences": {"natOutgoing": {"recorded": False, "actual": True}}}
