"""P5 and the per-host failure classes against real lab machines: one hung and one
unreachable machine among many cost only their own targets; a changed host key fails that
target; a target outside the fence is never connected to; the bastion path works."""
from __future__ import annotations

from autorke_lab.machines.faults import set_fault

from .conftest import commands_of, new_job, send, target, wait_finished


def _by_host(finished: dict) -> dict[str, dict]:
    return {t["host"]: t for t in finished["data"]["targets"]}


def test_p5_hung_and_unreachable_hosts_fail_alone(lab_factory, events, executor_factory):
    lab = lab_factory(machines=24)
    executor_factory(lab)
    names = [m["name"] for m in lab.machines]
    hung, down = names[3], names[7]
    set_fault(lab.machine(hung), "hang")
    set_fault(lab.machine(down), "unreachable")
    job = new_job(kind="script", action="facts", targets=[target(lab, n) for n in names], fence=names,
                  connect_timeout_s=5, command_timeout_s=12, concurrency=8)
    send(events, job)
    finished = wait_finished(events, job.job_id, timeout=90)[0]
    assert finished["data"]["status"] == "partially_failed"
    by_host = _by_host(finished)
    assert by_host[hung]["error_class"] == "timeout"
    assert by_host[down]["error_class"] == "unreachable"
    others = [n for n in names if n not in (hung, down)]
    assert all(by_host[n]["status"] == "succeeded" for n in others)
    # the others did not wait for the hung host: every one of them was recorded before it
    # was cut off (it holds one slot of eight for its whole timeout, the rest flow past)
    order = [e["data"]["host"] for e in events.of(job.job_id, "executor.target.finished")]
    assert order[-1] == hung and set(order[:-1]) == set(names) - {hung}
    assert by_host[hung]["duration_s"] >= job.command_timeout_s
    # the hung host did receive the command (it was cut off, not skipped)
    assert len(commands_of(lab, hung)) == 1


def test_changed_host_key_fails_that_target_only(lab, events, executor_factory):
    executor_factory(lab)
    for n in ("m005", "m006"):
        lab.reset(n)
    other_key = lab.info("m006")["host_key"]  # a valid key, but not m005's
    job = new_job(kind="script", action="facts", fence=["m005", "m006"],
                  targets=[target(lab, "m005", host_key=other_key), target(lab, "m006")])
    send(events, job)
    by_host = _by_host(wait_finished(events, job.job_id)[0])
    assert by_host["m005"]["error_class"] == "host_key"
    assert "does not match the recorded key" in by_host["m005"]["error"]
    assert by_host["m006"]["status"] == "succeeded"
    assert commands_of(lab, "m005") == []  # never authenticated, never ran anything


def test_rotated_host_key_on_the_machine_fails_it(lab_factory, events, executor_factory):
    lab = lab_factory(machines=2)
    executor_factory(lab)
    set_fault(lab.machine("m001"), "host_key_rotated")
    job = new_job(kind="script", action="probe", fence=["m001", "m002"],
                  targets=[target(lab, "m001"), target(lab, "m002")])
    send(events, job)
    by_host = _by_host(wait_finished(events, job.job_id)[0])
    assert by_host["m001"]["error_class"] == "host_key"
    assert by_host["m002"]["status"] == "succeeded"
    assert commands_of(lab, "m001") == []


def test_p5_target_outside_fence_is_never_connected(lab, events, executor_factory):
    executor_factory(lab)
    for n in ("m001", "m002"):
        lab.reset(n)
    sshd_log = lab.machine("m002").dir / "sshd.log"
    before = sshd_log.read_bytes() if sshd_log.exists() else b""
    job = new_job(kind="script", action="facts", fence=["m001"],
                  targets=[target(lab, "m001"), target(lab, "m002")])
    send(events, job)
    finished = wait_finished(events, job.job_id)[0]
    by_host = _by_host(finished)
    assert finished["data"]["status"] == "partially_failed"
    assert by_host["m002"]["status"] == "refused" and by_host["m002"]["error_class"] == "refused_fence"
    assert by_host["m001"]["status"] == "succeeded"
    assert commands_of(lab, "m002") == []
    after = sshd_log.read_bytes() if sshd_log.exists() else b""
    assert after == before  # sshd saw nothing at all from us


def test_bastion_path_reaches_inner_machines(lab, events, executor_factory):
    executor_factory(lab)
    inner = ["inner001", "inner002"]
    for n in [*inner, "bastion01"]:
        lab.reset(n)
    job = new_job(kind="script", action="facts", targets=[target(lab, n) for n in inner], fence=inner)
    send(events, job)
    finished = wait_finished(events, job.job_id)[0]
    assert finished["data"]["status"] == "succeeded", finished["data"]
    per = {e["data"]["host"]: e["data"]["result"]["facts"]
           for e in events.of(job.job_id, "executor.target.finished")}
    assert {h: f["hostname"] for h, f in per.items()} == {n: n for n in inner}
    assert commands_of(lab, "bastion01") == []  # only forwarding, no command on the bastion
    # the inner machines saw the bastion as the client
    clients = {r.client for n in inner for r in lab.machine(n).command_log()}
    assert clients and lab.info("inner001")["address"] not in clients
