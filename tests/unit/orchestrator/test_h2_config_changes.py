"""Config writes as changes (H1, H2): ``config.update`` / ``config.import`` /
``config.rollback`` preview through the inventory, wait for an approver (an admin when an
rkestate or kubeconfig is written, never the requester), then adopt; and the orchestrator
hands to rke only config versions stored within a change it approved."""
from __future__ import annotations

import pytest

from autorke_common.catalogue import inventory as inv
from autorke_common.envelope import Envelope
from autorke_common.errors import Forbidden
from autorke_orchestrator.domain.flow import ClusterView
from autorke_orchestrator.domain.params import InvalidParams
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.service_layer import handlers, projection, views
from autorke_orchestrator.service_layer.commands import Actor, CreateChange, DecideApproval

from .fakes import FakeUnitOfWork, State

OPERATOR = Actor("alice", frozenset({"operator"}))
APPROVER = Actor("bob", frozenset({"approver"}))
ADMIN = Actor("carol", frozenset({"admin", "approver", "operator"}))
PROPOSAL = {"proposal": "prp-0123456789abcdef", "digest": "sha256:" + "ab" * 32}


def platform() -> FakeUnitOfWork:
    state = State()
    state.clusters["r1"] = ClusterView("r1", "rke", "https://r1:6443", "sealed-kubeconfig", None, {})
    return FakeUnitOfWork(state)


def create(uow: FakeUnitOfWork, type_: str, kinds: list[str], actor: Actor = OPERATOR):
    request = ChangeRequest(type_, "r1", [], {**PROPOSAL, "kinds": kinds})
    return handlers.create_change(CreateChange(request, actor), uow)


def inventory_commands(uow: FakeUnitOfWork, change_id: str, type_: str) -> list[Envelope]:
    return [e for e in uow.emitted if e.type == type_ and e.correlation_id == change_id]


def answer(uow: FakeUnitOfWork, event: inv.Event, msg_id: str) -> None:
    projection.handle(Envelope.of(event, source="inventory", id=msg_id), uow)


def previewed(uow: FakeUnitOfWork, change_id: str) -> None:
    [cmd] = inventory_commands(uow, change_id, inv.PreviewConfig.TYPE)
    answer(uow, inv.ConfigPreviewed(cluster="r1", change_id=change_id, command_id=cmd.id,
                                    proposal=PROPOSAL["proposal"], digest=PROPOSAL["digest"],
                                    diffs=[inv.ConfigDiff(kind="cluster.yml", diff="-a: 1\n+a: 2\n")]),
           f"ev-preview-{change_id}")


def test_h1_an_options_change_previews_the_real_diff_then_waits_for_an_approver_then_adopts():
    uow = platform()
    change = create(uow, "config.update", ["options", "cluster.yml"])
    [cmd] = inventory_commands(uow, change.id, inv.PreviewConfig.TYPE)
    assert inv.PreviewConfig.model_validate(cmd.data).proposal == PROPOSAL["proposal"]
    assert "content" not in str(cmd.data) and change.params == {**PROPOSAL, "kinds": ["options", "cluster.yml"]}
    assert "step 'preview'" in change.config_diff  # the plan says where the real diff is
    previewed(uow, change.id)
    view = views.get_change(uow, change.id)
    assert view["status"] == "awaiting_approval"
    step = next(s for s in view["plan"]["steps"] if s["id"] == "preview")
    assert step["preview"]["diffs"][0]["diff"] == "-a: 1\n+a: 2\n"
    assert [s["status"] for s in view["plan"]["steps"]][1:3] == ["awaiting_approval", "pending"]
    with pytest.raises(Forbidden) as refused:
        handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "", OPERATOR), uow)
    assert refused.value.slug == "self-approval"
    assert not inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "", APPROVER), uow)
    [adopt] = inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)
    answer(uow, inv.ConfigAdopted(cluster="r1", change_id=change.id, command_id=adopt.id,
                                  versions=[{"kind": "cluster.yml", "version": 3}]), "ev-adopted")
    assert views.get_change(uow, change.id)["status"] == "succeeded"


@pytest.mark.parametrize("type_, kinds", [("config.import", ["cluster.yml", "cluster.rkestate"]),
                                          ("config.rollback", ["cluster.rkestate"]),
                                          ("config.rollback", ["kubeconfig"])])
def test_h2_a_change_that_writes_the_clusters_keys_needs_an_admin_other_than_the_requester(type_, kinds):
    uow = platform()
    change = create(uow, type_, kinds, actor=ADMIN)
    previewed(uow, change.id)
    view = views.get_change(uow, change.id)
    assert [(s["id"], s["status"]) for s in view["plan"]["steps"]][1:3] == [
        ("approve", "skipped"), ("approve_admin", "awaiting_approval")]
    with pytest.raises(Forbidden) as not_admin:
        handlers.decide_approval(DecideApproval(change.id, "approve_admin", "approve", "", APPROVER), uow)
    assert not_admin.value.slug == "forbidden"
    with pytest.raises(Forbidden) as self_approval:
        handlers.decide_approval(DecideApproval(change.id, "approve_admin", "approve", "", ADMIN), uow)
    assert self_approval.value.slug == "self-approval"
    assert not inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)
    other_admin = Actor("dave", frozenset({"admin"}))
    handlers.decide_approval(DecideApproval(change.id, "approve_admin", "approve", "", other_admin), uow)
    assert inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)


def test_h2_an_import_of_cluster_yml_alone_is_approved_by_an_approver():
    uow = platform()
    change = create(uow, "config.import", ["cluster.yml"])
    previewed(uow, change.id)
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "", APPROVER), uow)
    assert inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)


@pytest.mark.parametrize("params", [{"proposal": "../etc", "digest": PROPOSAL["digest"], "kinds": ["cluster.yml"]},
                                    {**PROPOSAL, "kinds": []}, {**PROPOSAL, "kinds": ["cluster.yml"], "content": "x"}])
def test_h2_config_change_params_name_a_proposal_and_never_carry_content(params):
    with pytest.raises(InvalidParams):
        handlers.create_change(CreateChange(ChangeRequest("config.import", "r1", [], params), OPERATOR), platform())


def test_h2_the_orchestrator_keeps_only_config_versions_of_approved_changes():
    uow = platform()
    change = create(uow, "config.import", ["cluster.rkestate"])

    def versioned(version: int, change_id: str | None, msg_id: str) -> None:
        answer(uow, inv.ConfigVersioned(cluster="r1", kind="cluster.rkestate", version=version,
                                        content_hash="sha256:x", created_by="alice", change_id=change_id,
                                        content_sealed=f"sealed-{version}"), msg_id)

    versioned(1, None, "ev-1")  # stored outside any change (before this rule, a REST import)
    versioned(2, change.id, "ev-2")  # within a change nobody approved yet
    versioned(3, "chg-unknown", "ev-3")  # a change id that is not ours
    assert "cluster.rkestate" not in uow.state.clusters["r1"].configs_sealed
    previewed(uow, change.id)
    handlers.decide_approval(DecideApproval(change.id, "approve_admin", "approve", "",
                                            Actor("dave", frozenset({"admin"}))), uow)
    versioned(4, change.id, "ev-4")
    assert uow.state.clusters["r1"].configs_sealed["cluster.rkestate"] == "sealed-4"


def test_an_answer_whose_delivery_failed_after_its_projection_still_answers_the_step_when_redelivered(monkeypatch):
    """The database went away between the projection's unit and the step's: the redelivery
    finds the message projected, and still hands its answer to the step (else the step waits
    out its deadline)."""
    uow = platform()
    change = create(uow, "config.import", ["cluster.yml"])
    take_results, calls = handlers.take_results, []

    def lost_once(cmd, uow_):
        calls.append(cmd.message_id)
        if len(calls) == 1:
            raise ConnectionError("the database system is shutting down")
        return take_results(cmd, uow_)
    monkeypatch.setattr(handlers, "take_results", lost_once)
    with pytest.raises(ConnectionError):
        previewed(uow, change.id)
    previewed(uow, change.id)  # the same message id, redelivered
    assert len(calls) == 2
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "", APPROVER), uow)
    assert inventory_commands(uow, change.id, inv.AdoptConfig.TYPE)
