"""Journeys of free machines through the public API: ``machine.init`` and
``machine.cleanup`` of clean machines (approved by someone other than the requester), an
init that fails on one of three machines and a retry that touches only that one (P10), and
one machine's whole lifecycle (init, node.add, node.remove) as the inventory's state
events show it (DESIGN.md section 3)."""
from __future__ import annotations

import pytest

from .conftest import Platform, wait

pytestmark = pytest.mark.slow
INIT = "AUTORKE_SCRIPT=init"
CLEANUP = "AUTORKE_SCRIPT=cleanup"


def step(change: dict, step_id: str) -> dict:
    return next(s for s in change["plan"]["steps"] if s["id"] == step_id)


def init(p: Platform, targets: list[str], profile: str = "base") -> dict:
    """``machine.init`` created by ``operator``: the plan names exactly ``targets``."""
    r = p.change(type="machine.init", targets=targets, params={"profile": profile})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["requested_by"] == p.subject("operator")
    assert created["plan"]["blast_radius"]["hosts"] == sorted(targets)
    return created


def approve_as_approver(p: Platform, change_id: str) -> None:
    own = p.approve(change_id, user="operator")
    assert own.status_code == 403 and own.json()["type"].endswith("/self-approval"), own.text
    assert p.approve(change_id).status_code == 200


@pytest.mark.timeout(420)
def test_init_then_cleanup_of_three_clean_machines_touches_only_them(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(3)
    assert p.states(targets) == {h: "available" for h in targets}
    mark = p.events.mark()

    cid = init(p, targets)["id"]
    waiting = p.wait_change(cid, "awaiting_approval", timeout=180)
    assert all(step(waiting, s)["status"] == "succeeded" for s in ("guard", "probe", "preflight")), waiting
    assert p.states(targets) == {h: "available" for h in targets}, "nothing moves before the approval"
    approve_as_approver(p, cid)
    done = p.wait_change(cid, "succeeded", timeout=240)
    assert [a["by"] for a in done["approvals"] if not a.get("automatic")] == [p.subject("approver")]
    for h in targets:
        sent = p.commands(h)
        assert any(INIT in c and c.rstrip().endswith("base") for c in sent), f"{h}: the init profile ran: {sent}"
    assert set(p.touched()) == set(targets), f"SSH commands outside the blast radius: {p.touched()}"
    wait(lambda: p.states(targets) == {h: "ready" for h in targets}, 60, f"{targets} ready after the init")

    p.clear_command_logs()
    r = p.change(type="machine.cleanup", targets=targets)
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["blast_radius"]["hosts"] == sorted(targets)
    cid = r.json()["id"]
    p.wait_change(cid, "awaiting_approval", timeout=180)
    approve_as_approver(p, cid)
    p.wait_change(cid, "succeeded", timeout=240)
    for h in targets:
        assert any(CLEANUP in c for c in p.commands(h)), f"{h}: the cleanup ran: {p.commands(h)}"
    assert set(p.touched()) == set(targets), f"SSH commands outside the blast radius: {p.touched()}"
    wait(lambda: p.states(targets) == {h: "available" for h in targets}, 60, f"{targets} available again")
    for h in targets:
        assert p.events.path(h, mark) == ["available", "initializing", "ready", "cleaning", "available"], \
            f"{h}: {p.events.path(h, mark)}"


@pytest.mark.timeout(480)
def test_p10_init_failing_on_one_machine_is_retried_on_that_one_only(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(3)
    failing = targets[1]
    cid = init(p, targets)["id"]
    try:
        # the checks passed; the fault is in place before the init action runs
        p.wait_change(cid, "awaiting_approval", timeout=180)
        p.set_fault(failing, "command_fails", message="journey: disk controller error")
        assert p.approve(cid).status_code == 200
        stopped = p.wait_change(cid, "partially_failed", timeout=240)
    finally:
        p.clear_faults(failing)
    action = step(stopped, "init")
    # "refused": the init's own probe got no answer, so the machine was not touched
    assert {h: t["status"] for h, t in action["targets"].items() if h != failing} == \
        {h: "succeeded" for h in targets if h != failing}, action
    assert action["targets"][failing]["status"] in ("failed", "refused"), action["targets"][failing]
    ok = [h for h in targets if h != failing]
    wait(lambda: all(s == "ready" for s in p.states(ok).values()), 60, f"{ok} ready")
    assert p.machine(failing)["state"] != "ready"

    p.clear_command_logs()
    r = p.call("POST", f"changes/{cid}:retry", "operator")
    assert r.status_code == 200, r.text
    done = p.wait_change(cid, "succeeded", timeout=240)
    touched = p.touched()
    assert set(touched) == {failing}, f"P10: the retry sent SSH commands to the failed machine only: {touched}"
    assert sum(INIT in c for c in p.commands(failing)) == 1
    assert step(done, "init")["attempt"] == 2
    wait(lambda: p.states(targets) == {h: "ready" for h in targets}, 60, f"{targets} all ready")


@pytest.mark.timeout(600)
def test_machine_lifecycle_init_add_remove_follows_the_design_states(clean_logs: Platform):
    """available → initializing → ready → joining → member → draining → removing →
    cleaning → available, each state read from the inventory where it lasts and every
    move from its ``inventory.machine.state_changed`` events."""
    p = clean_logs
    (host,) = p.claim(1)
    mark = p.events.mark()
    cid = init(p, [host])["id"]
    p.wait_change(cid, "awaiting_approval", timeout=180)
    assert p.machine(host)["state"] == "available"
    assert p.approve(cid).status_code == 200
    p.wait_change(cid, "succeeded", timeout=240)
    wait(lambda: p.machine(host)["state"] == "ready", 60, f"{host} ready")

    p.run_change(type="node.add", cluster="rke2-lab", targets=[host], params={"role": "worker"})
    member = wait(lambda: (m := p.machine(host))["state"] == "member" and m, 60, f"{host} member")
    assert member["cluster"] == "rke2-lab"

    p.run_change(type="node.remove", cluster="rke2-lab", targets=[host])
    gone = wait(lambda: (m := p.machine(host))["state"] == "available" and m, 60, f"{host} available")
    assert gone["cluster"] is None
    assert set(p.touched()) == {host}, p.touched()
    assert p.events.path(host, mark) == ["available", "initializing", "ready", "joining", "member",
                                         "draining", "removing", "cleaning", "available"], p.events.path(host, mark)
