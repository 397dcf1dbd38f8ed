"""Issue 7, partial failure on the lab through the real services (P10):

* ``node.add`` of 5 machines to ``rke2-lab`` where one machine's join fails (the lab's
  ``command_fails`` fault, put on it once its init is done and the join step runs): the
  change stops ``partially_failed``, waiting for the operator, its join results naming the
  failed machine; the fault cleared, ``:retry`` sends SSH commands to that machine only
  (the machines' command logs), the change succeeds and all 5 nodes are Ready;
* ``node.add`` of 2 machines where one fails at the join, then cancelled: the
  compensations run in reverse order of the steps (the change's history, and the command
  log of the joined machine: rke2 removed before the init is cleaned up), and their effect
  is in the lab: the rke2 agent stopped and uninstalled, then its Node deleted from the
  Kubernetes API, the init profile's files gone, neither machine a member nor locked.
"""
from __future__ import annotations

from autorke_lab.machines.faults import clear_all, set_fault

from .conftest import Platform, ready, wait

JOIN_SCRIPT = "AUTORKE_SCRIPT=rke2_join"
INIT_FILE = "/etc/sysctl.d/90-autorke-k8s.conf"


def step(change: dict, step_id: str) -> dict:
    return next(s for s in change["plan"]["steps"] if s["id"] == step_id)


def add_with_a_failing_join(p: Platform, targets: list[str], failing: str) -> str:
    """Start and approve ``node.add`` of ``targets``; ``failing``'s join fails: its SSH
    handshake is slow (5 s, the ``slow_handshake`` fault), so once the join step is seen
    running there is time to make its every command fail before the join's first one."""
    set_fault(p.lab.machine(failing), "slow_handshake", {"seconds": 5})
    r = p.change(type="node.add", cluster="rke2-lab", targets=targets, params={"role": "worker"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    p.wait_change(cid, "awaiting_approval", timeout=180)
    assert p.approve(cid).status_code == 200

    def join_running() -> dict | None:
        c = p.get_change(cid)
        return c if step(c, "join")["status"] == "running" else None

    running = wait(join_running, 300, f"the join step of {cid} running")
    set_fault(p.lab.machine(failing), "command_fails", {"message": "e2e: disk controller error"})
    assert step(running, "init")["targets"][failing]["status"] == "succeeded", "init passed: the join fails"
    return cid


def test_one_of_five_fails_at_join_and_retry_runs_that_one_only(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(5)
    failing = targets[2]
    try:
        cid = add_with_a_failing_join(p, targets, failing)
        stopped = p.wait_change(cid, "partially_failed", timeout=300)
    finally:
        clear_all(p.lab.machine(failing))
    join = step(stopped, "join")
    assert join["status"] == "partially_failed"
    assert {h: t["status"] for h, t in join["targets"].items()} == \
        {h: ("failed" if h == failing else "succeeded") for h in targets}, join
    assert "rke2 config" in join["targets"][failing]["error"], join["targets"][failing]
    assert "retry" in stopped["waiting_for"] and stopped["open"]
    assert step(stopped, "ready")["status"] == "pending", "nothing after the join ran"

    p.clear_command_logs()
    r = p.call(p.orchestrator, "POST", f"/api/v1/changes/{cid}:retry", "operator")
    assert r.status_code == 200, r.text
    done = p.wait_change(cid, "succeeded", timeout=300)

    touched = p.touched()
    assert set(touched) == {failing}, f"P10: the retry sent SSH commands to the failed machine only: {touched}"
    assert sum(JOIN_SCRIPT in c.command for c in p.lab.machine(failing).command_log()) == 1
    join = step(done, "join")
    assert join["attempt"] == 2 and all(t["status"] == "succeeded" for t in join["targets"].values()), join
    retried = next(j for j in p.jobs(cid) if j["id"] == f"{cid}:join:2")
    assert retried["hosts"] == [failing], retried

    v1 = p.kube("rke2-lab")
    wait(lambda: {n.metadata.name for n in v1.list_node().items if ready(n)} >= set(targets), 120,
         f"{targets} Ready in rke2-lab")
    v1.api_client.close()
    members = p.members("rke2-lab")
    assert {h: members.get(h) for h in targets} == {h: ["worker"] for h in targets}


def test_cancel_after_a_failed_join_compensates_in_reverse_order(clean_logs: Platform):
    p = clean_logs
    joined, failing = targets = p.claim(2)
    try:
        cid = add_with_a_failing_join(p, targets, failing)
        stopped = p.wait_change(cid, "partially_failed", timeout=300)
    finally:
        clear_all(p.lab.machine(failing))
    assert {h: t["status"] for h, t in step(stopped, "join")["targets"].items()} == \
        {joined: "succeeded", failing: "failed"}
    v1 = p.kube("rke2-lab")
    wait(lambda: any(n.metadata.name == joined and ready(n) for n in v1.list_node().items), 120,
         f"{joined} joined and Ready before the cancel")
    p.clear_command_logs()

    r = p.call(p.orchestrator, "POST", f"/api/v1/changes/{cid}:cancel", "operator")
    assert r.status_code == 200, r.text
    done = p.wait_change(cid, "cancelled", timeout=300)

    compensations = [(h["step"], h["result"], h["detail"]["job_id"].removeprefix(cid))
                     for h in done["history"] if h["action"] == "compensate"]
    assert compensations == [
        ("join", "started", ":join:undo:1"), ("join", "succeeded", ":join:undo:1"),  # agent uninstalled
        ("join", "started", ":join:undo:2"), ("join", "succeeded", ":join:undo:2"),  # then its Node deleted
        ("init", "started", ":init:undo:1"), ("init", "succeeded", ":init:undo:1")], compensations
    assert step(done, "join")["status"] == step(done, "init")["status"] == "compensated"
    assert all(step(done, s)["status"] == "cancelled" for s in ("ready", "labels", "member"))

    log = [c.command for c in p.lab.machine(joined).command_log()]
    removed = next(i for i, c in enumerate(log) if "AUTORKE_SCRIPT=rke2_remove" in c)
    cleaned = next(i for i, c in enumerate(log) if "AUTORKE_SCRIPT=cleanup" in c)
    assert removed < cleaned, f"rke2 removed before the init was undone, on the machine itself: {log}"
    assert set(p.touched()) == set(targets), p.touched()

    for h in targets:  # the machines as the compensations left them
        m = p.lab.machine(h)
        left = m.exec_in(["sh", "-c", f"ls -d /usr/local/bin/rke2 /etc/rancher/rke2 {INIT_FILE} 2>/dev/null"],
                         check=False).stdout.split()
        assert left == [], f"{h}: left behind by the compensations: {left}"
    assert not {joined, failing} & {n.metadata.name for n in v1.list_node().items}, "Node deleted"
    v1.api_client.close()
    members = p.members("rke2-lab")
    assert joined not in members and failing not in members
    again = p.change(type="node.add", cluster="rke2-lab", targets=targets, params={"role": "worker"}, dry_run=True)
    assert again.status_code == 200 and not any("locked" in w for w in again.json()["plan"]["warnings"]), again.text
