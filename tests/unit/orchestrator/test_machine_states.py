"""The machine lifecycle every flow walks its targets through (DESIGN.md section 3), decided
by the saga's lifecycle marks and checked against the inventory's own transition rules: a
flow run to its end (every job succeeding, or one host failing, or a cancel) leaves each
machine in the state the API must show, through legal transitions only."""
from __future__ import annotations

import pytest

from autorke_common.errors import DomainError, Problem
from autorke_inventory.domain.lifecycle import check_transition
from autorke_orchestrator.domain import saga
from autorke_orchestrator.domain.flow import ClusterView, MachineView, probe_clean
from autorke_orchestrator.domain.flows import flow_for
from autorke_orchestrator.domain.orders import MARK_COMMAND
from autorke_orchestrator.domain.planning import ChangeRequest, context, plan


class Locks:
    def acquire(self, cluster: str, change_id: str, step_id: str) -> bool:
        return True

    def release(self, cluster: str, change_id: str) -> None:
        pass


class Inventory:
    """What the inventory makes of the orders, in the order they are sent: membership from
    assign/release, state from the marks, each mark checked with the inventory's rules."""

    def __init__(self, states: dict[str, str], members: set[str]) -> None:
        self.states = dict(states)
        self.members = set(members)
        self.seen: dict[str, list[str]] = {h: [s] for h, s in states.items()}
        self.at_failure: dict[str, str] = {}

    def take(self, order: saga.Order) -> None:
        if order.job.action == "inventory.membership.assign":
            self.members |= set(order.job.hosts)
        elif order.job.action == "inventory.membership.release":
            self.members -= set(order.job.hosts)
        elif order.job.action == MARK_COMMAND:
            for h in order.job.hosts:
                target = order.job.params["state"]
                check_transition(h, self.states[h], target, is_member=h in self.members)
                if target != self.states[h]:
                    self.states[h] = target
                    self.seen[h].append(target)


def run(type_: str, targets: list[str], params: dict, *, provider: str = "rke2",
        states: dict[str, str], members: set[str] = frozenset(), fail: dict[str, str] | None = None,
        cancel_after: str | None = None):
    """Drive a change: every job succeeds, except ``fail`` (step id -> host) which fails
    once; approvals are given by another user; a failed step is retried, or cancelled when
    ``cancel_after`` names it."""
    cluster = ClusterView("c1", "rke2" if provider == "rke2" else "rke", "https://c1:6443", "k", "t",
                          {"e1": ["etcd", "controlplane"], **{h: ["worker"] for h in members}},
                          join_address="https://c1:9345")
    machines = {h: MachineView(h, h, "c1" if h in members else None, ["worker"] if h in members else [],
                               state=s) for h, s in states.items()}
    req = ChangeRequest(type_, cluster.name if type_.startswith("node.") else None, targets, params)
    flow = flow_for(type_, cluster.provider if type_.startswith("node.") else None)
    ctx = context(req, cluster if type_.startswith("node.") else None, machines)
    change = plan(req, flow, ctx, "alice", {})
    change.blast_hosts = sorted(set(change.blast_hosts) | set(targets))
    inventory, locks, fail = Inventory(states, set(members)), Locks(), dict(fail or {})
    queue = list(saga.advance(change, flow, ctx, locks))
    while True:
        if queue:
            order = queue.pop(0)
            inventory.take(order)
            for h in order.job.reported:  # the orchestrator's read model follows the inventory
                if h in machines:
                    machines[h].state = inventory.states[h]
            if order.purpose == "mark":
                continue
            bad = fail.pop(order.step_id, None) if order.purpose == "run" else None
            outcomes = {h: saga.Outcome("failed", "boom") if h == bad else saga.Outcome("succeeded")
                        for h in order.job.reported}
            queue += saga.on_results(change, flow, ctx, locks, order.job_id, outcomes)
        elif change.status == "awaiting_approval":
            step = next(s for s in change.steps if s.status == "awaiting_approval")
            queue = saga.decide(change, flow, ctx, locks, step.id, "bob", lambda r: True, "approve", "")
        elif change.status in ("partially_failed", "failed") and not change.closed:
            inventory.at_failure = dict(inventory.states)
            if cancel_after:
                cancel_after = None
                queue = saga.cancel(change, flow, ctx, "alice")
            else:
                queue = saga.retry(change, flow, ctx, locks, "alice")
        else:
            break
    return change, inventory


FREE = {"n1": "available", "n2": "available"}


def test_machine_init_goes_initializing_then_ready_and_cleanup_cleaning_then_available():
    change, inv = run("machine.init", ["n1", "n2"], {}, states=FREE)
    assert change.status == "succeeded"
    assert inv.seen == {"n1": ["available", "initializing", "ready"], "n2": ["available", "initializing", "ready"]}
    change, inv = run("machine.cleanup", ["n1"], {}, states={"n1": "ready"})
    assert change.status == "succeeded" and inv.seen["n1"] == ["ready", "cleaning", "available"]


def test_a_host_whose_init_failed_stays_initializing_while_the_others_are_ready_then_retry_readies_it():
    change, inv = run("machine.init", ["n1", "n2"], {}, states=FREE, fail={"init": "n2"})
    assert inv.at_failure == {"n1": "ready", "n2": "initializing"}, "when the change stopped"
    assert change.status == "succeeded"
    assert inv.seen["n1"] == ["available", "initializing", "ready"]
    assert inv.seen["n2"] == ["available", "initializing", "ready"]


def test_rke2_node_add_from_available_is_initializing_ready_joining_member():
    change, inv = run("node.add", ["n1"], {"role": "worker"}, states={"n1": "available"})
    assert change.status == "succeeded"
    assert inv.seen["n1"] == ["available", "initializing", "ready", "joining", "member"]
    assert "n1" in inv.members


def test_rke1_node_add_is_joining_from_the_membership_and_member_once_ready():
    change, inv = run("node.add", ["n1"], {"role": "worker"}, provider="rke", states={"n1": "ready"})
    assert change.status == "succeeded"
    assert inv.seen["n1"] == ["ready", "joining", "member"]


def test_node_remove_is_draining_removing_cleaning_available_on_both_providers():
    for provider in ("rke2", "rke"):
        change, inv = run("node.remove", ["n1"], {}, provider=provider, states={"n1": "member"},
                          members={"n1"})
        assert change.status == "succeeded", provider
        assert inv.seen["n1"] == ["member", "draining", "removing", "cleaning", "available"], provider
        assert "n1" not in inv.members


def test_a_cancelled_rke2_node_add_walks_the_machine_back_to_available():
    change, inv = run("node.add", ["n1", "n2"], {"role": "worker"}, states=FREE,
                      fail={"join": "n2"}, cancel_after="join")
    assert change.status == "cancelled"
    assert inv.states == {"n1": "available", "n2": "available"}
    assert inv.seen["n1"] == ["available", "initializing", "ready", "joining", "ready", "available"]


def test_every_mark_is_a_legal_transition_or_the_inventory_would_refuse_it():
    # the inventory refuses with a domain error (or, before its domain did, a Problem)
    with pytest.raises((DomainError, Problem)) as refused:  # the rule the RKE2 remove order exists for
        check_transition("n1", "member", "cleaning", is_member=True)
    assert refused.value.slug == "illegal-state-transition", "cleaning a member must be refused"


def test_an_empty_probe_answer_is_clean_and_any_finding_is_not():
    """The executor's probe answers a dict of lists; empty lists found nothing (the bug
    that refused every clean machine read the dict's keys as findings)."""
    clean = {"components": {"processes": [], "containers": [], "paths": [], "units": []}}
    assert probe_clean(None, {"m1": clean, "m2": clean}) is None
    dirty = {"components": {"processes": ["kubelet"], "containers": [], "paths": ["/etc/kubernetes"],
                            "units": []}}
    v = probe_clean(None, {"m1": clean, "m2": dirty})
    assert v is not None and v.slug == "machine-has-k8s-components" and v.hosts == ("m2",)
    assert "m2: processes: kubelet, paths: /etc/kubernetes" in v.detail and "m1" not in v.detail


def test_a_probe_that_refuses_marks_that_host_failed_not_succeeded():
    states = {"n1": "available", "n2": "available"}
    machines = {h: MachineView(h, h, state=s) for h, s in states.items()}
    req = ChangeRequest("machine.init", None, ["n1", "n2"], {})
    flow = flow_for("machine.init", None)
    ctx = context(req, None, machines)
    change = plan(req, flow, ctx, "alice", {})
    locks = Locks()
    probe = saga.advance(change, flow, ctx, locks)[0]
    assert probe.job.action == "probe"
    dirty = {"processes": ["kubelet"], "containers": [], "paths": [], "units": []}
    clean = {"processes": [], "containers": [], "paths": [], "units": []}
    saga.on_results(change, flow, ctx, locks, probe.job_id, {
        "n1": saga.Outcome("succeeded", result={"components": clean}),
        "n2": saga.Outcome("succeeded", result={"components": dirty})})
    assert change.status == "failed" and change.problem == "machine-has-k8s-components"
    targets = change.step("probe").targets
    assert targets["n1"].status == "succeeded"
    assert targets["n2"].status == "failed" and "kubelet" in targets["n2"].error
