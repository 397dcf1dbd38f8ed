"""The saga engine's decisions without NATS, a database or SSH: flows on a context built
by hand, a fake of our own config-lock port."""
from __future__ import annotations

import pytest

from autorke_common.errors import Conflict, Forbidden, Invalid
from autorke_orchestrator.domain import saga
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.flows import FLOWS, flow_for
from autorke_orchestrator.domain.model import IllegalTransition
from autorke_orchestrator.domain.planning import ChangeRequest, context, plan


class FakeLocks:
    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder

    def acquire(self, cluster: str, change_id: str, step_id: str) -> bool:
        if self.holder in (None, change_id):
            self.holder = change_id
            return True
        return False

    def release(self, cluster: str, change_id: str) -> None:
        if self.holder == change_id:
            self.holder = None


def jobs(orders: list[saga.Order]) -> list[saga.Order]:
    """The orders that do the work (lifecycle marks to the inventory left out)."""
    return [o for o in orders if o.purpose != "mark"]


def cluster(provider: str = "rke2") -> ClusterView:
    return ClusterView("c1", provider, "https://c1:6443", "sealed", "tok",
                       {"e1": ["etcd", "controlplane"], "w1": ["worker"], "w2": ["worker"]},
                       join_address="https://c1:9345")


def machines() -> dict[str, MachineView]:
    ms = {h: MachineView(h, h, "c1", r) for h, r in cluster().nodes.items()}
    ms.update({h: MachineView(h, h, state="ready") for h in ("n1", "n2", "n3")})
    ms["x1"] = MachineView("x1", "x1", "c2", ["worker"])
    return ms


def planned(type_: str, targets: list[str], params: dict, provider: str = "rke2"):
    req = ChangeRequest(type_, "c1", targets, params)
    flow = flow_for(type_, provider)
    ctx = context(req, cluster(provider), machines())
    return plan(req, flow, ctx, "alice", {}), flow, ctx


def test_every_action_declares_its_compensation_or_why_not():
    for flow in FLOWS.values():
        for step in flow.steps:
            if step.kind == "action":
                assert step.undo is not None or step.irreversible, (flow.type, step.id)


def test_p1_member_of_another_cluster_refused_at_plan():
    with pytest.raises(Conflict) as e:
        planned("node.add", ["n1", "x1"], {"role": "worker"})
    assert e.value.slug == "machine-in-other-cluster" and e.value.extensions["hosts"] == ["x1"]


def test_p4_core_role_refused_by_node_add():
    with pytest.raises(Invalid) as e:
        planned("node.add", ["n1"], {"role": "controlplane"})
    assert e.value.slug == "role-not-allowed"


def test_p5_rke2_blast_radius_is_the_new_nodes_and_rke1_every_node():
    change, _, _ = planned("node.add", ["n1", "n2"], {"role": "worker"})
    assert change.blast_hosts == ["n1", "n2"]
    change, _, _ = planned("node.add", ["n1"], {"role": "worker"}, "rke")
    assert change.blast_hosts == ["e1", "n1", "w1", "w2"] and change.warnings


def test_p6_etcd_restore_touches_etcd_nodes_only():
    change, flow, ctx = planned("etcd.restore", [], {"snapshot_name": "s1"})
    assert change.blast_hosts == ["e1"]
    for spec in flow.steps:
        if spec.job:
            job = spec.job(ctx, ["e1"])
            assert set(job.hosts) <= {"e1"} and job.kind in ("script", "kube")
            assert (job.kind, job.action) != ("rke", "snapshot_restore")


def test_p10_retry_reruns_failed_targets_only_with_a_new_job_id():
    change, flow, ctx = planned("node.add", ["n1", "n2", "n3"], {"role": "worker"})
    locks = FakeLocks()
    orders = saga.advance(change, flow, ctx, locks)
    assert [o.job.action for o in orders] == ["preflight"]
    saga.on_results(change, flow, ctx, locks, orders[0].job_id, {h: saga.Outcome("succeeded") for h in change.targets})
    assert change.status == "awaiting_approval"
    with pytest.raises(Forbidden) as e:
        saga.decide(change, flow, ctx, locks, "approve", "alice", lambda r: True, "approve", "")
    assert e.value.slug == "self-approval"
    orders = saga.decide(change, flow, ctx, locks, "approve", "bob", lambda r: True, "approve", "ok")
    assert orders[0].job.action == "join", "init skipped: the machines are ready"
    saga.on_results(change, flow, ctx, locks, orders[0].job_id,
                    {"n1": saga.Outcome("succeeded"), "n2": saga.Outcome("failed", "x"),
                     "n3": saga.Outcome("succeeded")})
    assert change.status == "partially_failed"
    again = saga.retry(change, flow, ctx, locks, "carol")
    assert again[0].job.hosts == ("n2",) and again[0].job_id == f"{change.id}:join:2"
    # A late duplicate report of attempt 1 changes nothing.
    assert saga.on_results(change, flow, ctx, locks, orders[0].job_id, {"n2": saga.Outcome("succeeded")}) == []
    assert change.step("join").targets["n2"].status == "running"


def test_config_writing_steps_wait_for_the_cluster_lock():
    change, flow, ctx = planned("node.add", ["n1"], {"role": "worker"}, "rke")
    locks = FakeLocks(holder="chg-other")
    o = saga.advance(change, flow, ctx, locks)
    saga.on_results(change, flow, ctx, locks, o[0].job_id, {"n1": saga.Outcome("succeeded")})
    member = saga.decide(change, flow, ctx, locks, "approve", "bob", lambda r: True, "approve", "")
    assert member[0].job.action == "inventory.membership.assign"
    assert saga.on_results(change, flow, ctx, locks, member[0].job_id, {"n1": saga.Outcome("succeeded")}) == []
    assert "config lock" in change.waiting_for
    locks.holder = None
    assert saga.advance(change, flow, ctx, locks)[0].job.action == "inventory.config.store"
    assert locks.holder == change.id


def test_job_ids_are_deterministic_and_parse_back():
    assert saga.parse_job_id(saga.job_id("chg-1", "join", 2)) == ("chg-1", "join", "run", 2)
    assert saga.parse_job_id(saga.job_id("chg-1", "join", 1, undo=True)) == ("chg-1", "join", "undo", 1)
    assert saga.parse_job_id("someone-else's-job") is None


def test_cancelled_rke2_join_is_undone_agent_first_then_node_object_then_init():
    """A cancelled RKE2 node.add: the join's compensations run in order (uninstall the agent,
    then delete its Node object, which a running agent would register again), each its own
    job id, before the init's; a duplicate report of the first changes nothing."""
    change, flow, ctx = planned("node.add", ["n1", "n2"], {"role": "worker"})
    for m in ("n1", "n2"):
        ctx.machines[m].state = "available"
    locks = FakeLocks()
    o = saga.advance(change, flow, ctx, locks)
    saga.on_results(change, flow, ctx, locks, o[0].job_id, {h: saga.Outcome("succeeded") for h in change.targets})
    init = saga.decide(change, flow, ctx, locks, "approve", "bob", lambda r: True, "approve", "")
    assert init[0].job.action == "init"
    join = jobs(saga.on_results(change, flow, ctx, locks, init[0].job_id,
                                {h: saga.Outcome("succeeded") for h in ("n1", "n2")}))
    saga.on_results(change, flow, ctx, locks, join[0].job_id,
                    {"n1": saga.Outcome("succeeded"), "n2": saga.Outcome("failed", "x")})
    assert change.status == "partially_failed"

    unjoin = saga.cancel(change, flow, ctx, "alice")
    assert [(o.job.kind, o.job.action, o.job_id) for o in unjoin] == [
        ("rke2", "remove", f"{change.id}:join:undo:1")]
    delete = saga.on_results(change, flow, ctx, locks, unjoin[0].job_id,
                             {h: saga.Outcome("succeeded") for h in ("n1", "n2")})
    assert [(o.job.kind, o.job.action, o.job_id) for o in delete] == [
        ("kube", "delete_node", f"{change.id}:join:undo:2")]
    assert delete[0].job.params["nodes"] == ["n1", "n2"] and change.status == "compensating"
    assert saga.on_results(change, flow, ctx, locks, unjoin[0].job_id, {"n1": saga.Outcome("succeeded")}) == []
    cleanup = jobs(saga.on_results(change, flow, ctx, locks, delete[0].job_id,
                                   {h: saga.Outcome("succeeded") for h in ("n1", "n2")}))
    assert [o.job.action for o in cleanup] == ["cleanup"] and change.step("join").status == "compensated"
    assert jobs(saga.on_results(change, flow, ctx, locks, cleanup[0].job_id,
                                {h: saga.Outcome("succeeded") for h in ("n1", "n2")})) == []
    assert change.status == "cancelled"
    assert [(h.step_id, h.result, h.detail.get("job_id", "").rsplit(":", 2)[-2:]) for h in change.history
            if h.action == "compensate"] == [
        ("join", "started", ["undo", "1"]), ("join", "succeeded", ["undo", "1"]),
        ("join", "started", ["undo", "2"]), ("join", "succeeded", ["undo", "2"]),
        ("init", "started", ["undo", "1"]), ("init", "succeeded", ["undo", "1"])]


def test_retry_after_a_failed_compensation_never_runs_the_action_again():
    """A cancel whose compensation failed leaves the change failed; retry must not take the
    compensated step's failed targets for a forward run (it would join them after a cancel)."""
    change, flow, ctx = planned("node.add", ["n1", "n2"], {"role": "worker"})
    locks = FakeLocks()
    o = saga.advance(change, flow, ctx, locks)
    saga.on_results(change, flow, ctx, locks, o[0].job_id, {h: saga.Outcome("succeeded") for h in change.targets})
    join = saga.decide(change, flow, ctx, locks, "approve", "bob", lambda r: True, "approve", "")
    saga.on_results(change, flow, ctx, locks, join[0].job_id,
                    {"n1": saga.Outcome("succeeded"), "n2": saga.Outcome("failed", "x")})
    unjoin = saga.cancel(change, flow, ctx, "alice")
    saga.on_results(change, flow, ctx, locks, unjoin[0].job_id,
                    {"n1": saga.Outcome("failed", "ssh down"), "n2": saga.Outcome("succeeded")})
    assert change.status == "failed" and "compensation" in change.waiting_for
    with pytest.raises(IllegalTransition) as e:
        saga.retry(change, flow, ctx, locks, "carol")
    assert e.value.slug == "compensation-failed"
    assert change.step("join").attempt == 1, "the join was not sent again"
