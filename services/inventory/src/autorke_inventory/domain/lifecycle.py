"""The machine lifecycle of DESIGN.md section 3 as data: which state may follow which.

    available -> initializing -> ready -> joining -> member -> draining -> removing
    -> cleaning -> available, plus faulty (from anywhere live) and retired.

Every backward edge is a compensation a flow may need (an init that failed goes back to
``available``, a join that failed back to ``ready``, a node.add cancelled after its
membership was recorded back through ``joining`` to ``ready``, a drain that was cancelled
back to ``member``). A free machine may be cleaned up from ``available`` too (a machine
handed back by another team). ``retired`` is left only when the CMDB brings the machine back."""
from __future__ import annotations

from autorke_common.errors import Conflict, Invalid

STATES = ("available", "initializing", "ready", "joining", "member", "draining", "removing",
          "cleaning", "faulty", "retired")

TRANSITIONS: dict[str, frozenset[str]] = {
    "available": frozenset({"initializing", "ready", "joining", "cleaning", "faulty", "retired"}),
    "initializing": frozenset({"ready", "available", "cleaning", "faulty"}),
    "ready": frozenset({"joining", "cleaning", "initializing", "available", "faulty", "retired"}),
    "joining": frozenset({"member", "ready", "faulty"}),
    "member": frozenset({"draining", "joining", "ready", "faulty"}),
    "draining": frozenset({"removing", "member", "faulty"}),
    "removing": frozenset({"cleaning", "available", "faulty"}),
    "cleaning": frozenset({"available", "initializing", "faulty"}),
    "faulty": frozenset({"available", "initializing", "cleaning", "member", "retired"}),
    "retired": frozenset({"available"}),
}

# States in which the machine must be (or stay) a cluster member, and in which it must not.
MEMBER_STATES = frozenset({"joining", "member", "draining", "removing"})
FREE_STATES = frozenset({"available", "initializing", "ready", "cleaning", "retired"})


def illegal(machine: str, current: str, target: str, why: str = "") -> Conflict:
    allowed = sorted(TRANSITIONS.get(current, ()))
    return Conflict("illegal-state-transition",
                    f"machine {machine} cannot go from {current!r} to {target!r}"
                    + (f": {why}" if why else f" (allowed: {', '.join(allowed) or 'none'})"),
                    machine=machine, current=current, target=target, allowed=allowed)


def path(current: str, target: str) -> list[str] | None:
    """The shortest legal way from ``current`` to ``target`` (its states after ``current``),
    never through ``faulty`` or ``retired``; None when there is none."""
    ways: dict[str, list[str]] = {current: []}
    frontier = [current]
    while frontier:
        nxt = []
        for state in frontier:
            for after in sorted(TRANSITIONS[state]):
                if after in ways or (after in ("faulty", "retired") and after != target):
                    continue
                ways[after] = ways[state] + [after]
                if after == target:
                    return ways[after]
                nxt.append(after)
        frontier = nxt
    return None


def check_transition(machine: str, current: str, target: str, *, is_member: bool,
                     expected: str | None = None, skipping: bool = False) -> None:
    """Raise ``illegal-state-transition`` unless ``current -> target`` is allowed for a
    machine that is (or is not) a cluster member. ``skipping`` allows a legal path instead
    of one edge: a change's newest mark stands for the ones before it that were not
    handled yet (they are stale when they come)."""
    if target not in STATES:
        raise Invalid("invalid-request", f"unknown state {target!r}")
    if expected is not None and expected != current:
        raise illegal(machine, current, target, f"expected it in {expected!r}")
    if target == current:
        return
    if target not in TRANSITIONS[current] and not (skipping and path(current, target)):
        raise illegal(machine, current, target)
    if target in MEMBER_STATES - {"joining"} and not is_member:
        raise illegal(machine, current, target, "it is not a member of any cluster")
    if target in FREE_STATES and is_member:
        raise illegal(machine, current, target, "it is still a cluster member; release it first")
