"""The approvals inbox's rules: what waits for a user is what they may decide — never their
own change or ticket, only with the role the gate needs — oldest first; a ticket inside a
change is that change's gate, listed once."""
from __future__ import annotations

from datetime import UTC, datetime

from autorke_console.domain.inbox import inbox

APPROVER = {"approver", "viewer"}


def change(cid: str, requested_by: str = "alice", role: str = "approver", at: str = "2026-12-04T10:00:00+00:00",
           status: str = "awaiting_approval") -> dict:
    return {"id": cid, "type": "node.add", "cluster": "c1", "targets": ["m1", "m2", "m3", "m4"], "status": status,
            "requested_by": requested_by, "created_at": "2026-12-04T09:00:00+00:00",
            "updated_at": "2026-12-04T12:00:00+00:00",
            "waiting_for": f"approval of step approve (approve) by a user with role {role!r} other than {requested_by}",
            "plan": {"steps": [{"id": "guard", "name": "guard", "status": "succeeded"},
                               {"id": "approve", "name": "human approval", "status": "awaiting_approval"}]},
            "history": [{"at": at, "action": "status", "step": None, "result": "awaiting_approval"}]}


def ticket(tid: str, status: str = "planned", requested_by: str = "alice", correlation: str = "tkt") -> dict:
    return {"id": tid, "cluster": "c1", "status": status, "requested_by": requested_by, "correlation_id": correlation,
            "plan": {"nodes": [{"name": "m7"}]}, "created_at": "2026-12-04T08:00:00+00:00",
            "updated_at": "2026-12-04T08:30:00+00:00"}


def test_an_approver_sees_the_gates_and_tickets_of_others_oldest_first():
    found = inbox([change("chg-b", at="2026-12-04T11:00:00"), change("chg-a")],  # chg-b's time without a zone: UTC
                  [ticket("tkt-1"), ticket("tkt-2", "callback_received")], "bob", APPROVER)
    assert [(w.kind, w.id) for w in found] == [("ticket", "tkt-1"), ("ticket", "tkt-2"), ("gate", "chg-a"),
                                               ("gate", "chg-b")]
    gate = found[2]
    assert (gate.what, gate.step, gate.requested_by, gate.link) == (
        "node.add c1 (m1, m2, m3, +1)", "human approval", "alice", "/ui/changes/chg-a")
    assert [w.step for w in found[:2]] == ["check", "confirm"]
    assert gate.age_s(datetime(2026, 12, 4, 10, 1, tzinfo=UTC)) == 60.0


def test_never_ones_own_never_without_the_role_and_a_changes_ticket_once():
    assert inbox([change("chg-own", requested_by="bob")], [ticket("tkt-own", requested_by="bob")], "bob",
                 APPROVER) == []
    assert inbox([change("chg-admin", role="admin")], [], "bob", APPROVER) == [], "an admin gate needs an admin"
    assert [w.id for w in inbox([change("chg-admin", role="admin")], [], "carol", {"admin"})] == ["chg-admin"]
    assert inbox([change("chg-a")], [ticket("tkt-9")], "dave", {"operator"}) == [], "an operator decides nothing"
    assert inbox([], [ticket("tkt-in", correlation="chg-a"), ticket("tkt-done", "applied")], "bob", APPROVER) == []
