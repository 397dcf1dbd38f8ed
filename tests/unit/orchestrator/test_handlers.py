"""The orchestrator's handlers on an in-memory unit of work (``fakes.py``): what a use case
stores, locks and sends, and what a refusal leaves behind (nothing)."""
from __future__ import annotations

import pytest

from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.catalogue.inventory import MachineStateChanged
from autorke_common.catalogue.orchestrator import ApprovalRecorded, ChangeCreated, StepSucceeded
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, Forbidden, Missing, Problem
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Change, Endpoint
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers, projection, views
from autorke_orchestrator.service_layer.commands import (
    EVERY_TARGET,
    Actor,
    CancelChange,
    CreateChange,
    DecideApproval,
    TakeResults,
)
from autorke_orchestrator.service_layer.dispatch import command_id

from .fakes import FakeUnitOfWork, State

OPERATOR = Actor("alice", frozenset({"operator"}))
APPROVER = Actor("bob", frozenset({"approver"}))


def platform() -> FakeUnitOfWork:
    """An RKE2 cluster ``c1`` (one server, ``e1``) and three free machines that are ready;
    ``n3`` has no SSH endpoint in the inventory."""
    state = State()
    state.clusters["c1"] = ClusterView("c1", "rke2", "https://c1:6443", "sealed-kubeconfig", "sealed-token",
                                       {"e1": ["etcd", "controlplane"]}, join_address="https://c1:9345")
    state.machines["e1"] = MachineView("id-e1", "e1", "c1", ["etcd", "controlplane"], state="member")
    for h in ("n1", "n2", "n3"):
        state.machines[h] = MachineView(f"id-{h}", h, state="ready")
    for h in ("e1", "n1", "n2"):
        state.endpoints[h] = Endpoint(h, f"10.0.0.{len(state.endpoints) + 1}", 22, f"ssh-ed25519 AAAA{h}", "root")
    return FakeUnitOfWork(state)


def add_nodes(uow: FakeUnitOfWork, *hosts: str, actor: Actor = OPERATOR, dry_run: bool = False) -> Change:
    request = ChangeRequest("node.add", "c1", list(hosts), {"role": "worker"})
    return handlers.create_change(CreateChange(request, actor, dry_run), uow)


def runs(uow: FakeUnitOfWork, change_id: str) -> list[ExecutorRun]:
    return [ExecutorRun.model_validate(e.data) for e in uow.emitted
            if e.type == ExecutorRun.TYPE and e.correlation_id == change_id]


def report(uow: FakeUnitOfWork, job_id: str, message_id: str, **outcomes: str) -> None:
    handlers.take_results(TakeResults("orchestrator-executor", message_id, job_id,
                                      {h: Outcome(s) for h, s in outcomes.items()}), uow)


def awaiting_approval(uow: FakeUnitOfWork) -> Change:
    """A node.add of n1 and n2 whose preflight succeeded: it waits at its approval gate."""
    change = add_nodes(uow, "n1", "n2")
    report(uow, runs(uow, change.id)[0].job_id, "msg-preflight", n1="succeeded", n2="succeeded")
    return views.load_change(uow, change.id)


def test_create_change_stores_the_plan_locks_its_machines_and_sends_the_first_job():
    uow = platform()
    change = add_nodes(uow, "id-n1", "n2")  # a machine may be named by its inventory id
    stored = uow.state.changes[change.id]
    assert (stored.targets, stored.blast_hosts, stored.status) == (["n1", "n2"], ["n1", "n2"], "running")
    assert [s.id for s in stored.steps] == ["guard", "preflight", "approve", "init", "join", "ready", "labels",
                                            "member"]
    assert uow.state.machine_locks == {"n1": change.id, "n2": change.id}
    assert uow.types(change.id).count(ChangeCreated.TYPE) == 1
    [preflight] = runs(uow, change.id)
    assert (preflight.action, preflight.job_id, preflight.fence) == ("preflight", f"{change.id}:preflight:1",
                                                                     ["n1", "n2"])
    assert [t.host_key for t in preflight.targets] == ["ssh-ed25519 AAAAn1", "ssh-ed25519 AAAAn2"]
    assert set(uow.state.jobs) == {f"{change.id}:preflight:1"}


def test_a_dry_run_plans_but_stores_locks_and_sends_nothing():
    uow = platform()
    change = add_nodes(uow, "n1", dry_run=True)
    assert change.blast_hosts == ["n1"] and change.steps
    assert not uow.committed and uow.emitted == [] and uow.state.changes == {}


def test_unknown_machine_is_refused_and_nothing_is_kept():
    uow = platform()
    with pytest.raises(Missing) as refused:
        add_nodes(uow, "n1", "ghost")
    assert refused.value.slug == "not-found" and refused.value.extensions["hosts"] == ["ghost"]
    assert not uow.committed and uow.state.machine_locks == {}


def test_machine_without_an_ssh_endpoint_is_refused_before_anything_runs():
    uow = platform()
    with pytest.raises(Conflict) as refused:
        add_nodes(uow, "n1", "n3")
    assert refused.value.slug == "machine-unreachable" and refused.value.extensions["hosts"] == ["n3"]
    assert not uow.committed


def test_p1_member_of_a_cluster_is_refused_by_node_add():
    uow = platform()
    with pytest.raises(Conflict) as refused:
        add_nodes(uow, "e1")
    assert refused.value.slug == "machine-already-member" and not uow.committed


def test_a_machine_locked_by_an_open_change_is_refused_and_the_second_change_not_stored():
    uow = platform()
    first = add_nodes(uow, "n1")
    with pytest.raises(Conflict) as refused:
        add_nodes(uow, "n2", "n1")
    assert refused.value.slug == "machine-locked" and refused.value.extensions["locks"] == {"n1": first.id}
    assert list(uow.state.changes) == [first.id]
    assert uow.state.machine_locks == {"n1": first.id}, "n2 was not locked either"


def test_a_requester_approving_their_own_change_is_refused_and_nothing_changes():
    uow = platform()
    change = awaiting_approval(uow)
    assert change.status == "awaiting_approval"
    before, sent = uow.state.changes[change.id].version, len(uow.emitted)
    admin_requester = Actor("alice", frozenset({"admin"}))
    with pytest.raises(Forbidden) as refused:
        handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "mine", admin_requester), uow)
    assert refused.value.slug == "self-approval"
    stored = uow.state.changes[change.id]
    assert (stored.version, stored.approvals, stored.status) == (before, [], "awaiting_approval")
    assert len(uow.emitted) == sent


def test_an_operator_without_the_approver_role_cannot_approve():
    uow = platform()
    change = awaiting_approval(uow)
    with pytest.raises(Forbidden) as refused:
        handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "", Actor("carol")), uow)
    assert refused.value.slug == "forbidden"


def test_another_approver_opens_the_gate_and_the_join_is_sent():
    uow = platform()
    change = awaiting_approval(uow)
    approved = handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "ok", APPROVER), uow)
    assert [a.by for a in approved.approvals] == ["bob"]
    assert ApprovalRecorded.TYPE in uow.types(change.id)
    assert [r.action for r in runs(uow, change.id)] == ["preflight", "join"], "init skipped: the machines are ready"


def test_a_stale_report_changes_nothing():
    """A late duplicate of the preflight's report (another message, same job and attempt)
    moves nothing and writes nothing but the mark that the message was handled."""
    uow = platform()
    change = awaiting_approval(uow)
    preflight = runs(uow, change.id)[0].job_id
    before, sent = uow.state.changes[change.id], len(uow.emitted)
    report(uow, preflight, "msg-late-duplicate", n1="failed", n2="failed")
    after = uow.state.changes[change.id]
    assert after.version == before.version and after.step("preflight").succeeded_hosts() == ["n1", "n2"]
    assert len(uow.emitted) == sent
    assert ("orchestrator-executor", "msg-late-duplicate") in uow.state.processed


def test_a_redelivered_report_is_taken_once():
    uow = platform()
    change = add_nodes(uow, "n1", "n2")
    preflight = runs(uow, change.id)[0].job_id
    report(uow, preflight, "msg-1", n1="succeeded")
    version = uow.state.changes[change.id].version
    report(uow, preflight, "msg-1", n1="succeeded")  # the bus redelivers the same message
    assert uow.state.changes[change.id].version == version
    assert uow.types(change.id).count(StepSucceeded.TYPE) == 1, "the guard's, not a second one"


def test_a_job_the_executor_refused_whole_fails_every_waiting_target():
    uow = platform()
    change = add_nodes(uow, "n1", "n2")
    handlers.take_results(TakeResults("orchestrator-executor", "msg-refused", runs(uow, change.id)[0].job_id,
                                      {EVERY_TARGET: Outcome("failed", "fence refused", "failed")}), uow)
    stored = uow.state.changes[change.id]
    assert stored.status == "failed" and stored.step("preflight").failed_hosts() == ["n1", "n2"]


def test_cancel_by_someone_who_neither_requested_nor_approves_is_forbidden():
    uow = platform()
    change = add_nodes(uow, "n1")
    with pytest.raises(Forbidden):
        handlers.cancel(CancelChange(change.id, Actor("mallory", frozenset({"operator"}))), uow)
    assert handlers.cancel(CancelChange(change.id, APPROVER), uow).cancel_requested


def test_a_gate_cancelled_while_it_waits_shows_cancelled_and_a_rejected_one_rejected():
    """Console review: a change its requester cancelled at the gate showed the gate "rejected"."""
    uow = platform()
    cancelled = handlers.cancel(CancelChange(awaiting_approval(uow).id, OPERATOR), uow)
    assert cancelled.step("approve").status == "cancelled"
    uow = platform()
    change = awaiting_approval(uow)
    rejected = handlers.decide_approval(DecideApproval(change.id, "approve", "reject", "wrong rack", APPROVER), uow)
    assert rejected.step("approve").status == "rejected"
    assert [(a.decision, a.comment) for a in rejected.approvals] == [("reject", "wrong rack")]


def test_an_unknown_change_is_not_found():
    uow = platform()
    with pytest.raises(Missing) as refused:
        handlers.cancel(CancelChange("chg-nope", OPERATOR), uow)
    assert refused.value.slug == "not-found"


def test_resume_moves_nothing_that_waits_on_a_job_and_writes_nothing():
    uow = platform()
    add_nodes(uow, "n1")
    commits, sent = uow.commits, len(uow.emitted)
    assert handlers.resume_open(uow) == 1
    assert (uow.commits, len(uow.emitted)) == (commits, sent)


def test_changes_created_at_the_same_instant_are_each_listed_once_across_pages():
    uow = platform()
    ids = [add_nodes(uow, h).id for h in ("n1", "n2")]
    for change in uow.state.changes.values():
        change.created_at = uow.state.changes[ids[0]].created_at
    first = views.list_changes(uow, None, None, 1, None)
    second = views.list_changes(uow, None, None, 1, first.next_cursor)
    assert sorted(i["id"] for i in first.items + second.items) == sorted(ids) and second.next_cursor is None


def test_a_mark_sets_the_read_model_at_once_and_its_late_echo_does_not_undo_it():
    """node.add right after machine.init must not init again: the state a flow sends the
    inventory is the read model's from the moment it is sent, and the inventory's echo of an
    earlier mark (available → initializing), arriving late, does not move it back."""

    uow = platform()
    uow.state.machines["n1"].state = "available"
    change = add_nodes(uow, "n1")
    report(uow, runs(uow, change.id)[0].job_id, "msg-preflight", n1="succeeded")
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "ok", APPROVER), uow)
    init = runs(uow, change.id)[-1]
    assert init.action == "init" and uow.state.machines["n1"].state == "initializing"
    report(uow, init.job_id, "msg-init", n1="succeeded")  # ready, then the join starts: joining
    assert runs(uow, change.id)[-1].action == "join"
    assert uow.state.machines["n1"].state == "joining", "known when the mark is sent, not when its echo comes"

    mark = f"{change.id}:init:mark-initializing:1"
    echo = MachineStateChanged(machine="id-n1", hostname="n1", from_state="available", to_state="initializing",
                               change_id=change.id, command_id=command_id(mark, 0, "n1"))
    projection.handle(Envelope.of(echo, source="inventory"), uow)
    assert uow.state.machines["n1"].state == "joining"

    by_hand = MachineStateChanged(machine="id-n1", hostname="n1", from_state="joining", to_state="faulty")
    projection.handle(Envelope.of(by_hand, source="inventory"), uow)
    assert uow.state.machines["n1"].state == "faulty", "a move the flows did not send is the inventory's word"


def test_a_changes_history_pages_oldest_first_and_refuses_another_changes_cursor():
    uow = platform()
    change = awaiting_approval(uow)
    whole = [e["action"] for e in views.history_view(views.load_change(uow, change.id))]
    seen, cursor = [], None
    while True:
        page = views.get_history(uow, change.id, 2, cursor)
        seen += [e["action"] for e in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == whole and len(whole) > 2
    other = handlers.create_change(CreateChange(ChangeRequest("node.update", "c1", ["e1"], {"labels": {"x": "y"}}),
                                                OPERATOR, False), uow)
    with pytest.raises(Problem) as refused:
        views.get_history(uow, other.id, 2, views.get_history(uow, change.id, 1, None).next_cursor)
    assert refused.value.slug == "invalid-cursor"
