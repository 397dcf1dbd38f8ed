"""What counts as drift between netcfg's record of a pool and the pool the cluster holds,
and when a record may be judged at all.

A write of netcfg's reaches the cluster and its record in two steps that no transaction
spans, so a record is judged only when it is *settled*: no write of netcfg's is in flight
on it, and it did not change while the cluster was being read (the drift check reads the
records before and after listing the cluster's pools and compares their write marks).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from autorke_common.envelope import aware
from autorke_netcfg.domain.pool_rules import differences


class WriteMark(NamedTuple):
    """A pool record's write marks: the id of the last write netcfg began on it, and when
    that write began while it is still in flight (``None`` once it is recorded)."""

    write_id: str | None
    write_started_at: datetime | None


def settled(before: WriteMark | None, after: WriteMark | None, now: datetime,
            grace_s: float) -> bool:
    """Whether a pool may be judged against the cluster as it was listed between reading
    ``before`` and ``after`` (``None``: no record). Not while netcfg is writing it, nor if
    a write began or ended meanwhile; a write that began more than ``grace_s`` ago is one
    whose writer died, and what it left behind is judged like any other state."""
    if before != after:
        return False
    if after is None or after.write_started_at is None:
        return True
    return (now - aware(after.write_started_at)).total_seconds() > grace_s


def judge(recorded: dict[str, Any], actual: dict[str, Any] | None) -> dict[str, Any] | None:
    """The drift of a pool whose record holds ``recorded`` (empty: netcfg never wrote it,
    or deleted it) and whose cluster object has spec ``actual`` (``None``: not there)."""
    if not recorded:
        return {"kind": "unmanaged", "differences": {}} if actual is not None else None
    if actual is None:
        return {"kind": "missing", "differences": {}}
    diffs = differences(recorded, actual)
    return {"kind": "changed", "differences": diffs} if diffs else None
