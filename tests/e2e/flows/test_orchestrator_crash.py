"""Issue 7: the orchestrator killed in the middle of a join resumes after a restart and
finishes, with each host joined once — on the lab, through the real services.

The orchestrator is a real process (see conftest): it is killed with SIGKILL while the
``node.add`` join job is out, some hosts joined and one not yet (that one answers its SSH
handshake slowly, the lab's ``slow_handshake`` fault, so its join lands seconds after the
others'). The executor finishes the join and reports to the bus while the orchestrator is
dead; the orchestrator is started again on the same database and takes the reports. What
shows it: the change succeeds; the nodes are Ready in the lab Kubernetes API; each host's
own command log holds the join script once; the executor ran every job of the change once.
"""
from __future__ import annotations

from autorke_lab.machines.faults import clear_fault, set_fault

from .conftest import Platform, ready, wait

JOIN_SCRIPT = "AUTORKE_SCRIPT=rke2_join"
LABELS = {"e2e.test/run": "crash"}


def test_orchestrator_killed_mid_join_resumes_and_joins_each_host_once(clean_logs: Platform):
    p = clean_logs
    targets = p.claim(3)
    slow = targets[-1]
    set_fault(p.lab.machine(slow), "slow_handshake", {"seconds": 5})
    try:
        r = p.change(type="node.add", cluster="rke2-lab", targets=targets,
                     params={"role": "worker", "labels": LABELS})
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        join_job = f"{cid}:join:1"
        p.wait_change(cid, "awaiting_approval", timeout=180)
        assert p.approve(cid).status_code == 200

        def some_joined() -> set[str] | None:
            r = p.call(p.executor, "GET", f"/api/v1/jobs/{join_job}", "viewer")
            done = {t["host"] for t in r.json()["targets"]} if r.status_code == 200 else set()
            return done or None

        joined_before_kill = wait(some_joined, 300, f"a host of {join_job} joined")
        step = next(s for s in p.get_change(cid)["plan"]["steps"] if s["id"] == "join")
        assert step["status"] == "running" and step["job_id"] == join_job, step
        p.orchestrator_process.kill()
        assert slow not in joined_before_kill, f"killed too late to be mid-join: {joined_before_kill}"

        # The executor goes on alone: the join finishes while the orchestrator is dead.
        finished = wait(lambda: (j := p.call(p.executor, "GET", f"/api/v1/jobs/{join_job}", "viewer").json())
                        ["status"] != "running" and j, 300, f"{join_job} finished by the executor")
        assert finished["status"] == "succeeded", finished
        p.orchestrator_process.start()
        done = p.wait_change(cid, "succeeded", timeout=300)
    finally:
        clear_fault(p.lab.machine(slow), "slow_handshake")
        if not p.orchestrator_process.alive():  # the next tests need it, also after a failure here
            p.orchestrator_process.start()

    join = next(s for s in done["plan"]["steps"] if s["id"] == "join")
    assert join["attempt"] == 1 and {h: t["status"] for h, t in join["targets"].items()} == \
        {h: "succeeded" for h in targets}, join

    v1 = p.kube("rke2-lab")
    nodes = wait(lambda: (found := {n.metadata.name: n for n in v1.list_node().items
                                    if n.metadata.name in targets and ready(n)}) and len(found) == 3 and found,
                 120, f"{targets} Ready in rke2-lab")
    v1.api_client.close()
    assert all(n.metadata.labels.get("e2e.test/run") == "crash" for n in nodes.values())
    members = p.members("rke2-lab")
    assert {h: members.get(h) for h in targets} == {h: ["worker"] for h in targets}

    joins = {h: sum(JOIN_SCRIPT in c.command for c in p.lab.machine(h).command_log()) for h in targets}
    assert joins == {h: 1 for h in targets}, f"each host received the join script once: {joins}"
    assert set(p.touched()) == set(targets), p.touched()

    jobs = p.jobs(cid)
    assert jobs and all(j["attempts"] == 1 for j in jobs), \
        f"an executor job ran twice: {[(j['id'], j['attempts']) for j in jobs]}"
    assert all(j["id"].endswith(":1") for j in jobs), f"a step was sent again: {[j['id'] for j in jobs]}"
    assert {j["id"].split(":")[1] for j in jobs} >= {"preflight", "init", "join", "ready", "labels"}
