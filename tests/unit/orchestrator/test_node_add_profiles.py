"""node.add with node profiles, CMDB labels and the flat-network ticket (issue 18), on the
in-memory unit of work: what each node gets is decided at plan and shown there; a bad
custom profile refuses the change with the field named and stores nothing; the ticket's
steps move on netcfg's ticket events, a refused ticket leaves the nodes joined and the
change partially failed, a retry plans a new ticket and asks the human check again, and a
cancel reverts the ticket and keeps the nodes unless the network is required."""
from __future__ import annotations

import pytest

from autorke_common.catalogue.inventory import AssignMembership
from autorke_common.catalogue.netcfg import (
    ApproveTicket,
    ConfirmTicket,
    IPPoolChecked,
    PlanTicket,
    RevertTicket,
    TicketApplied,
    TicketCallbackReceived,
    TicketFailed,
    TicketPlanned,
    TicketReverted,
)
from autorke_common.envelope import Envelope
from autorke_common.errors import Forbidden, Invalid
from autorke_orchestrator.domain.node_specs import Document
from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.service_layer import handlers, netcfg_answers, ticket_answers, views
from autorke_orchestrator.service_layer.commands import CancelChange, CreateChange, DecideApproval, RetryChange

from .test_handlers import APPROVER, OPERATOR, platform, report, runs

FACTS = {"n1": {"rack": "SH-R001", "idc": "idc-sh-01", "gpu_model": "NVIDIA A100-SXM4-80GB", "gpu_count": 8},
         "n2": {"rack": "SH-R002", "idc": "idc-sh-01", "gpu_model": None, "gpu_count": 0}}
FLAT = {"network": {"enabled": True, "route_reflectors": 1}, "labels": {"example.com/pool": "gpu"}}


def lab(profile: dict | None = None, mapping: dict | None = None):
    uow = platform()
    for host, facts in FACTS.items():
        uow.state.machines[host].facts = facts
    if profile is not None:
        uow.state.documents[("c1", "node-profile", "default")] = Document("default", 3, profile)
    if mapping is not None:
        uow.state.documents[("c1", "label-mapping", "default")] = Document("default", 2, mapping)
    return uow


def create(uow, params: dict, hosts=("n1", "n2")):
    request = ChangeRequest("node.add", "c1", list(hosts), {"role": "worker", **params})
    return handlers.create_change(CreateChange(request, OPERATOR), uow)


def sent(uow, change_id: str, cls) -> list:
    return [cls.model_validate(e.data) for e in uow.emitted if e.type == cls.TYPE and e.correlation_id == change_id]


def netcfg(uow, change_id: str, event, message_id: str) -> None:
    env = Envelope.of(event, source="netcfg", correlation_id=change_id, id=message_id)
    (netcfg_answers if isinstance(event, IPPoolChecked) else ticket_answers).handle(env, uow)


def approve(uow, change_id: str, step: str) -> None:
    handlers.decide_approval(DecideApproval(change_id, step, "approve", "ok", APPROVER), uow)


def test_each_node_gets_its_cmdb_labels_and_the_profiles_and_the_plan_shows_them():
    uow = lab({"labels": {"example.com/team": "ml"}, "kubelet": {"max_pods": 200}},
              {"fixed": {"example.com/fleet": "sh"}, "gpu_taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]})
    change = create(uow, {"labels": {"example.com/journey": "x"}})
    nodes = change.params["resolved"]["nodes"]
    assert nodes["n1"]["labels"] == {"example.com/fleet": "sh", "example.com/team": "ml",
                                     "topology.kubernetes.io/zone": "SH-R001",
                                     "topology.kubernetes.io/region": "idc-sh-01",
                                     "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "8",
                                     "example.com/journey": "x"}
    assert nodes["n1"]["taints"] == [{"key": "nvidia.com/gpu", "value": "", "effect": "NoSchedule"}]
    assert "nvidia.com/gpu.product" not in nodes["n2"]["labels"] and nodes["n2"]["taints"] == []
    assert nodes["n2"]["kubelet_args"] == ["max-pods=200"]
    diff = change.config_diff
    assert "# node profile default v3, label mapping v2" in diff
    assert "+node-label: topology.kubernetes.io/zone=SH-R002" in diff and "+kubelet-arg: max-pods=200" in diff
    assert "+node-taint: nvidia.com/gpu=:NoSchedule" in diff

    report(uow, f"{change.id}:preflight:1", "m-pre", n1="succeeded", n2="succeeded")
    approve(uow, change.id, "approve")
    join = next(r for r in runs(uow, change.id) if r.action == "join")
    assert join.params["nodes"]["n1"]["labels"]["nvidia.com/gpu.count"] == "8"
    assert join.params["nodes"]["n2"]["kubelet_args"] == ["max-pods=200"]


@pytest.mark.parametrize(("params", "field"), [
    ({"custom_profile": {"labels": {"bad key": "x"}}}, "params.custom_profile.labels.bad key"),
    ({"custom_profile": {"kubelet": {"max_pods": 5}}}, "params.custom_profile.kubelet.max_pods"),
    ({"custom_profile": {"taints": [{"key": "a", "effect": "Sometimes"}]}}, "params.custom_profile.taints.0.effect"),
    ({"custom_profile": {"network": {"enabled": True}}}, "params.network.cidr"),
    ({"node_profile": "Not_A_Name"}, "params.node_profile"),
])
def test_a_bad_custom_profile_is_refused_at_plan_with_the_field_and_nothing_is_stored(params, field):
    uow = lab()
    with pytest.raises(Invalid) as refused:
        create(uow, params)
    assert refused.value.extensions["field"] == field, refused.value
    assert uow.state.changes == {} and uow.state.machine_locks == {} and uow.emitted == []


def test_rke1_takes_no_kubelet_setting_per_node():
    uow = lab()
    uow.state.clusters["c1"].provider = "rke"
    with pytest.raises(Invalid) as refused:
        create(uow, {"custom_profile": {"kubelet": {"max_pods": 200}}})
    assert refused.value.extensions["field"] == "params.custom_profile.kubelet"
    assert uow.state.changes == {}


def joined(uow, params: dict):
    """A flat-network node.add run up to its ticket: the pool checked, the nodes joined."""
    change = create(uow, params)
    assert [s.id for s in change.steps][-5:] == ["net_plan", "net_check", "net_submit", "net_confirm", "net_apply"]
    netcfg(uow, change.id, IPPoolChecked(command_id=f"{change.id}:net_pool:1|kube-api", change_id=change.id,
                                         cluster="c1", pool="flat-10-240-0-0-24", operation="create"), "m-pool")
    report(uow, f"{change.id}:preflight:1", "m-pre", n1="succeeded", n2="succeeded")
    approve(uow, change.id, "approve")
    for step in ("join", "ready", "labels"):
        report(uow, f"{change.id}:{step}:1", f"m-{step}", n1="succeeded", n2="succeeded")
    for i, host in enumerate(("n1", "n2")):  # the inventory answers each host's assign
        handlers.take_results(handlers.TakeResults("orchestrator-inventory", f"m-member-{i}",
                                                   f"{change.id}:member:1", {host: handlers.saga.Outcome("succeeded")}),
                              uow)
    return views.load_change(uow, change.id)


def test_the_ticket_runs_inside_the_change_with_both_human_steps():
    uow = lab(FLAT)
    change = joined(uow, {"network": {"cidr": "10.240.0.0/24"}})
    [assign] = [a for a in sent(uow, change.id, AssignMembership) if a.machine == "n1"]
    assert assign.labels["topology.kubernetes.io/zone"] == "SH-R001", "the inventory keeps each node's labels"
    [plan] = sent(uow, change.id, PlanTicket)
    tid = f"nt-{change.id.removeprefix('chg-')}-1"
    assert (plan.ticket_id, plan.nodes, plan.route_reflectors, plan.rack_label, plan.pool.cidr) == (
        tid, ["n1", "n2"], ["n1"], "topology.kubernetes.io/zone", "10.240.0.0/24")
    assert plan.requested_by == "alice"
    netcfg(uow, change.id, TicketPlanned(ticket_id=tid, cluster="c1", requested_by="alice",
                                         plan={"nodes": [{"name": "n1", "rack": "SH-R001"}]}), "m-planned")
    change = views.load_change(uow, change.id)
    assert change.status == "awaiting_approval" and change.step("net_check").status == "awaiting_approval"
    assert sent(uow, change.id, ApproveTicket) == [], "nothing goes to VCalico before the human check"
    with pytest.raises(Forbidden):
        handlers.decide_approval(DecideApproval(change.id, "net_check", "approve", "mine", OPERATOR), uow)
    approve(uow, change.id, "net_check")
    [submit] = sent(uow, change.id, ApproveTicket)
    assert (submit.ticket_id, submit.approved_by) == (tid, "bob")

    answer = {"bgp_peers": [{"rack": "SH-R001", "peer_ip": "10.0.0.254", "as_number": 65001, "nodes": ["n1"]}]}
    netcfg(uow, change.id, TicketCallbackReceived(ticket_id=tid, cluster="c1", event_id="e1", result="approved",
                                                  answer=answer, accepted=True), "m-callback")
    change = views.load_change(uow, change.id)
    assert change.step("net_confirm").status == "awaiting_approval"
    assert change.step("net_submit").targets["ticket"].result["answer"] == answer, "the callback, for the confirmation"
    approve(uow, change.id, "net_confirm")
    [confirm] = sent(uow, change.id, ConfirmTicket)
    assert (confirm.ticket_id, confirm.confirmed_by) == (tid, "bob")
    netcfg(uow, change.id, TicketApplied(ticket_id=tid, cluster="c1", pool="flat-10-240-0-0-24", nodes=["n1", "n2"],
                                         route_reflectors=["n1"]), "m-applied")
    assert views.load_change(uow, change.id).status == "succeeded"


def test_a_rejected_ticket_leaves_the_nodes_joined_and_a_retry_plans_a_new_one():
    uow = lab(FLAT)
    change = joined(uow, {"network": {"cidr": "10.240.0.0/24"}})
    tid = f"nt-{change.id.removeprefix('chg-')}-1"
    netcfg(uow, change.id, TicketPlanned(ticket_id=tid, cluster="c1", requested_by="alice", plan={}), "m-planned")
    approve(uow, change.id, "net_check")
    netcfg(uow, change.id, TicketFailed(ticket_id=tid, cluster="c1", reason="vcalico-rejected",
                                        detail="no free ports on the ToR"), "m-rejected")
    change = views.load_change(uow, change.id)
    assert change.status == "partially_failed" and change.step("net_submit").status == "partially_failed"
    assert change.step("net_submit").targets["ticket"].error_class == "vcalico-rejected"
    assert change.step("member").status == "succeeded", "the nodes stay joined"

    handlers.retry(RetryChange(change.id, OPERATOR), uow)
    plans = sent(uow, change.id, PlanTicket)
    assert [p.ticket_id for p in plans] == [tid, tid[:-1] + "2"], "a new ticket for the same nodes"
    assert plans[1].nodes == ["n1", "n2"]
    late = TicketPlanned(ticket_id=tid, cluster="c1", requested_by="alice", plan={})
    netcfg(uow, change.id, late, "m-late")  # the first ticket's event, redelivered: no news
    assert views.load_change(uow, change.id).step("net_plan").status == "running"
    netcfg(uow, change.id, TicketPlanned(ticket_id=plans[1].ticket_id, cluster="c1", requested_by="alice", plan={}),
           "m-planned-2")
    assert views.load_change(uow, change.id).step("net_check").status == "awaiting_approval", "checked again"


@pytest.mark.parametrize("required", [False, True])
def test_cancel_reverts_the_ticket_and_removes_the_nodes_only_when_the_network_is_required(required):
    uow = lab({**FLAT, "network": {**FLAT["network"], "required": required}})
    change = joined(uow, {"network": {"cidr": "10.240.0.0/24"}})
    tid = f"nt-{change.id.removeprefix('chg-')}-1"
    netcfg(uow, change.id, TicketPlanned(ticket_id=tid, cluster="c1", requested_by="alice", plan={}), "m-planned")
    approve(uow, change.id, "net_check")
    netcfg(uow, change.id, TicketFailed(ticket_id=tid, cluster="c1", reason="callback-timeout", detail="late"),
           "m-timeout")
    handlers.cancel(CancelChange(change.id, OPERATOR), uow)
    [revert] = sent(uow, change.id, RevertTicket)
    assert revert.ticket_id == tid
    netcfg(uow, change.id, TicketReverted(ticket_id=tid, cluster="c1"), "m-reverted")
    change = views.load_change(uow, change.id)
    undone = [r.action for r in runs(uow, change.id) if r.action in ("remove", "delete_node")]
    if required:
        assert change.status == "compensating" and undone == [], "the nodes go, one step after another"
    else:
        assert change.status == "cancelled" and undone == [], "the nodes stay: the network was optional"
        assert change.step("join").status == "compensated"


def test_node_add_core_takes_no_profile():
    uow = lab()
    request = ChangeRequest("node.add_core", "c1", ["n1"], {"roles": ["etcd"], "node_profile": "gpu"})
    uow.state.clusters["c1"].provider = "rke"
    with pytest.raises(Invalid) as refused:
        handlers.create_change(CreateChange(request, OPERATOR), uow)
    assert refused.value.extensions["field"] == "params.node_profile"
    assert uow.state.changes == {}
