"""M3: the ``ippool.*`` change types on the orchestrator's handlers with an in-memory unit
of work (``fakes.py``): the plan (the pool spec before and after, no host in the blast
radius), the check sent to netcfg and its verdict (a violation refuses the change with its
slug before anything is written), the approval by someone other than the requester, the
apply (with what the check found), and the compensation putting it back."""
from __future__ import annotations

import pytest

from autorke_common.catalogue.netcfg import ApplyPool, CheckPool, IPPoolApplied, IPPoolChecked, IPPoolRefused
from autorke_common.envelope import Envelope
from autorke_common.errors import Forbidden, Invalid
from autorke_orchestrator.domain.flow import ClusterView
from autorke_orchestrator.domain.model import Change
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.service_layer import handlers, netcfg_answers, views
from autorke_orchestrator.service_layer.commands import Actor, CancelChange, CreateChange, DecideApproval

from .fakes import FakeUnitOfWork, State

OPERATOR = Actor("alice", frozenset({"operator"}))
APPROVER = Actor("bob", frozenset({"approver"}))
SPEC = {"cidr": "10.80.0.0/16", "blockSize": 24, "ipipMode": "Never", "vxlanMode": "Never", "natOutgoing": False,
        "disabled": False, "nodeSelector": "all()", "disableBGPExport": False}


def platform() -> FakeUnitOfWork:
    state = State()
    state.clusters["c1"] = ClusterView("c1", "rke2", "https://c1:6443", "sealed-kubeconfig")
    return FakeUnitOfWork(state)


def create(uow: FakeUnitOfWork, kind: str, params: dict, actor: Actor = OPERATOR, dry_run: bool = False) -> Change:
    return handlers.create_change(CreateChange(ChangeRequest(f"ippool.{kind}", "c1", [], params), actor, dry_run),
                                  uow)


def sent(uow: FakeUnitOfWork, change_id: str, cls) -> list:
    return [cls.model_validate(e.data) for e in uow.emitted if e.type == cls.TYPE and e.correlation_id == change_id]


def answer(uow: FakeUnitOfWork, message, msg_id: str) -> None:
    netcfg_answers.handle(Envelope.of(message, source="netcfg", correlation_id=message.change_id, id=msg_id), uow)


def checked(cmd: CheckPool, before: dict | None, after: dict | None, violations: list | None = None):
    return IPPoolChecked(command_id=cmd.command_id, change_id=cmd.change_id, cluster="c1", pool=cmd.pool,
                         operation=cmd.operation, before=before, after=after, violations=violations or [])


def test_m3_the_plan_shows_the_pool_spec_before_and_after_and_touches_no_host():
    uow = platform()
    change = create(uow, "update", {"name": "pods", "spec": {**SPEC, "natOutgoing": True}, "previous": SPEC},
                    dry_run=True)
    assert [s.id for s in change.steps] == ["check", "approve", "apply"]
    assert change.blast_hosts == [] and change.blast_components[0] == "calico ippool pods"
    assert "- natOutgoing: false\n+ natOutgoing: true" in change.config_diff
    assert "  cidr: 10.80.0.0/16" in change.config_diff
    created = create(uow, "create", {"name": "new", "spec": SPEC}, dry_run=True)
    assert "+ cidr: 10.80.0.0/16" in created.config_diff and "- " not in created.config_diff


@pytest.mark.parametrize("params,field", [
    ({"name": "Bad_Name", "spec": SPEC}, "params.name"),
    ({"name": "p", "spec": {**SPEC, "cidr": "10.80.0.1/16"}}, "params.spec.cidr"),
    ({"name": "p", "spec": {**SPEC, "ipipMode": "Sometimes"}}, "params.spec.ipipMode"),
    ({"name": "p"}, "params.spec"),
])
def test_m3_malformed_pool_params_are_refused_at_plan_time(params, field):
    uow = platform()
    with pytest.raises(Invalid) as caught:
        create(uow, "create", params)
    assert caught.value.slug == "invalid-params" and caught.value.extensions["field"] == field
    assert uow.state.changes == {} and uow.emitted == []


def test_m3_a_pool_change_waits_for_another_approver_then_netcfg_applies_what_it_checked():
    uow = platform()
    change = create(uow, "create", {"name": "pods", "spec": SPEC})
    (check,) = sent(uow, change.id, CheckPool)
    assert (check.pool, check.operation, check.spec, check.requested_by) == ("pods", "create", SPEC, "alice")
    assert check.command_id == f"{change.id}:check:1|kube-api"
    assert sent(uow, change.id, ApplyPool) == [], "nothing is written before the check and the approval"
    answer(uow, checked(check, None, SPEC), "m1")
    answer(uow, checked(check, None, SPEC), "m1")     # a redelivered answer counts once
    assert views.load_change(uow, change.id).status == "awaiting_approval"
    with pytest.raises(Forbidden) as caught:
        handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "mine", OPERATOR), uow)
    assert caught.value.slug == "self-approval"
    assert sent(uow, change.id, ApplyPool) == []
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "ok", APPROVER), uow)
    (apply,) = sent(uow, change.id, ApplyPool)
    assert (apply.operation, apply.before, apply.after) == ("create", None, SPEC)
    answer(uow, IPPoolApplied(command_id=apply.command_id, change_id=change.id, cluster="c1", pool="pods",
                              operation="create", before=None, after=SPEC), "m2")
    assert views.load_change(uow, change.id).status == "succeeded"


def test_m3_a_violation_netcfg_finds_refuses_the_change_with_its_slug():
    uow = platform()
    change = create(uow, "create", {"name": "pods", "spec": {**SPEC, "cidr": "10.20.0.0/16"}})
    (check,) = sent(uow, change.id, CheckPool)
    answer(uow, checked(check, None, None, [{"slug": "pool-overlaps-host-network", "field": "cidr",
                                             "detail": "pool 10.20.0.0/16 overlaps the host network"}]), "m1")
    done = views.load_change(uow, change.id)
    assert done.status == "failed" and done.problem == "pool-overlaps-host-network"
    assert sent(uow, change.id, ApplyPool) == []


def test_m3_cancelling_after_a_failed_apply_sends_the_restore_of_what_the_check_found():
    uow = platform()
    change = create(uow, "disable", {"name": "pods", "previous": SPEC})
    (check,) = sent(uow, change.id, CheckPool)
    disabled = {**SPEC, "disabled": True}
    answer(uow, checked(check, SPEC, disabled), "m1")
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "ok", APPROVER), uow)
    (apply,) = sent(uow, change.id, ApplyPool)
    answer(uow, IPPoolRefused(command_id=apply.command_id, change_id=change.id, cluster="c1", pool="pods",
                              command=ApplyPool.TYPE, problem="cluster-error", detail="500"), "m2")
    assert views.load_change(uow, change.id).status == "failed"
    handlers.cancel(CancelChange(change.id, OPERATOR), uow)
    restore = sent(uow, change.id, ApplyPool)[-1]
    assert (restore.operation, restore.before, restore.after) == ("restore", disabled, SPEC)
    answer(uow, IPPoolApplied(command_id=restore.command_id, change_id=change.id, cluster="c1", pool="pods",
                              operation="restore", before=disabled, after=SPEC), "m3")
    assert views.load_change(uow, change.id).status == "cancelled"
