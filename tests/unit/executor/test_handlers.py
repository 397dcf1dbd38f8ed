"""The executor's handler decisions with an in-memory unit of work and fake machines: a
job id runs once (a duplicate replays the stored result), a job found running after a
crash is taken over without re-running its finished hosts, nothing outside the fence is
connected to (P5), a refused probe stops init/cleanup on that host only (P2), and the
job list pages newest first without skipping rows that share a time."""
from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import yaml

from autorke_common.bus import Delivery
from autorke_common.catalogue.executor import ExecutorRun, Target
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Forbidden, Invalid, Missing, Problem, StoreUnavailable, TemporaryError
from autorke_common.signing import ExpiredCommand
from autorke_executor.adapters.orm import JobRow
from autorke_executor.domain.model import JobHeld, LeaseLost, TargetOutcome
from autorke_executor.entrypoints.consumer import JobConsumer
from autorke_executor.service_layer import views
from autorke_executor.service_layer.handlers import Lease, RunJob, run_job
from autorke_executor.service_layer.ports import KubePort
from fixtures.signing import signer

from .fakes import FakeKubeFailure, FakeMachine, FakeUnitOfWork, command, fleet, target

KUBELET = {"processes": ["kubelet"]}


def facts_job(hosts: list[str], fence: list[str] | None = None, **fields) -> ExecutorRun:
    return ExecutorRun(job_id=fields.pop("job_id", "job-1"), change_id="chg-1", kind="script",
                       action=fields.pop("action", "facts"), targets=[target(h) for h in hosts],
                       fence=hosts if fence is None else fence, **fields)


def finished(uow: FakeUnitOfWork) -> list[dict]:
    return uow.of_type("executor.job.finished")


def by_host(event: dict) -> dict[str, dict]:
    return {t["host"]: t for t in event["targets"]}


def test_a_job_runs_every_target_once_and_closes_with_their_results():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2", "m3")
    assert run_job(command(facts_job(["m1", "m2", "m3"])), uow, f.ports) == "succeeded"
    assert sorted(f.ssh.connects) == ["m1", "m2", "m3"]
    assert all(f.ssh.scripts_run(h) == ["facts"] for h in ("m1", "m2", "m3"))
    types = [e.type for e in uow.events]
    assert types[0] == "executor.job.started" and types[-1] == "executor.job.finished"
    assert {e["host"]: e["result"]["facts"]["hostname"] for e in uow.of_type("executor.target.finished")} == \
        {"m1": "m1", "m2": "m2", "m3": "m3"}
    row = uow.jobs.get("job-1")
    assert (row.status, row.attempts, row.requested_by) == ("succeeded", 1, "tests")
    assert [t.host for t in uow.targets.finished("job-1")] == ["m1", "m2", "m3"]
    assert uow.committed and ("executor.run", uow.events[0].causation_id) in uow.processed


def test_a_duplicate_job_id_runs_nothing_twice_and_replays_the_stored_result():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2")
    job = facts_job(["m1", "m2"])
    run_job(command(job), uow, f.ports)
    sent = len(uow.events)

    again = command(job)  # the same job id in a new envelope
    assert run_job(again, uow, f.ports) == "replayed"
    assert f.ssh.connects.count("m1") == 1 and f.ssh.connects.count("m2") == 1
    replay = finished(uow)[-1]
    assert replay["replayed"] is True and replay["status"] == "succeeded"
    assert sorted(by_host(replay)) == ["m1", "m2"]
    replayed_events = uow.events[sent:]
    assert [e.type for e in replayed_events].count("executor.target.finished") == 2
    assert all(e.causation_id == again.envelope.id for e in replayed_events)

    # the very same envelope redelivered: answered already, not even the replay again
    before = len(uow.events)
    assert run_job(again, uow, f.ports) == "replayed"
    assert len(uow.events) == before and len(f.ssh.connects) == 2


def test_a_job_found_running_after_a_crash_is_taken_over_without_rerunning_finished_hosts():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2", "m3", "m4")
    job = facts_job(["m1", "m2", "m3", "m4"])
    # what a killed executor left: the job running, two of its hosts recorded
    uow.jobs.add(JobRow(job_id=job.job_id, change_id=job.change_id, kind="script", action="facts",
                        status="running", hosts=["m1", "m2", "m3", "m4"], fence=list(job.fence),
                        params={}, attempts=1, created_at=utcnow()))
    for h in ("m1", "m3"):
        uow.targets.add(job.job_id, TargetOutcome.ok(h, 0.1, 0, "", {"facts": {"hostname": h}}))

    assert run_job(command(job), uow, f.ports) == "succeeded"
    assert sorted(f.ssh.connects) == ["m2", "m4"]  # never m1 or m3 again
    started = uow.of_type("executor.job.started")
    assert [s["redelivery"] for s in started] == [True]
    assert uow.jobs.get(job.job_id).attempts == 2
    assert sorted(by_host(finished(uow)[0])) == ["m1", "m2", "m3", "m4"]


class BlippingUnitOfWork(FakeUnitOfWork):
    """A database that goes away for ``blips`` statements once the job has started: the
    lease renewal each write of a result begins with fails, and the write with it."""

    def __init__(self, blips: int) -> None:
        super().__init__()
        self.blips = blips
        renew = self.jobs.renew

        def blipping_renew(*args, **kw) -> bool:
            if self.blips:
                self.blips -= 1
                raise StoreUnavailable("database unavailable: the database system is shutting down")
            return renew(*args, **kw)
        self.jobs.renew = blipping_renew


def test_a_result_written_through_a_database_blip_is_kept_and_no_host_runs_twice():
    """The database restarts while targets run: the results in hand are written once it is
    back, in the same delivery; failing it would lose them and run those hosts again."""
    uow, f = BlippingUnitOfWork(blips=2), fleet("m1", "m2", "m3")
    assert run_job(command(facts_job(["m1", "m2", "m3"], concurrency=1)), uow, f.ports) == "succeeded"
    assert sorted(f.ssh.connects) == ["m1", "m2", "m3"], "each host once"
    assert uow.blips == 0 and [t.host for t in uow.targets.finished("job-1")] == ["m1", "m2", "m3"]
    assert uow.jobs.get("job-1").attempts == 1


def _running_row(job, owner: str, lease_left_s: float, token: int = 1) -> JobRow:
    return JobRow(job_id=job.job_id, change_id=job.change_id, kind="script", action="facts", status="running",
                  hosts=list(job.fence), fence=list(job.fence), params={}, attempts=1, created_at=utcnow(),
                  owner=owner, lease_expires_at=utcnow() + timedelta(seconds=lease_left_s), fencing_token=token)


def test_h4_a_job_whose_lease_another_executor_holds_is_left_to_it():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2")
    job = facts_job(["m1", "m2"])
    uow.jobs.add(_running_row(job, "executor-a", lease_left_s=20))
    with pytest.raises(JobHeld, match="executor-a") as held:
        run_job(command(job), uow, f.ports, lease=Lease("executor-b", 30))
    assert 1.0 <= held.value.delay <= 20.0, "it comes back once the lease could have run out"
    assert f.ssh.connects == [] and uow.of_type("executor.job.started") == []


def test_h4_a_job_whose_lease_ran_out_is_taken_over_with_a_new_fencing_token():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2")
    job = facts_job(["m1", "m2"])
    uow.jobs.add(_running_row(job, "executor-a", lease_left_s=-1, token=4))
    assert run_job(command(job), uow, f.ports, lease=Lease("executor-b", 30)) == "succeeded"
    row = uow.jobs.get(job.job_id)
    assert (row.owner, row.fencing_token, row.attempts) == ("executor-b", 5, 2)


def test_h4_a_run_whose_lease_was_taken_over_writes_nothing_more():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2")
    job = facts_job(["m1", "m2"], concurrency=1)
    real_renew = uow.jobs.renew

    def taken_over_after_first(job_id, owner, token, until):  # another executor claims it meanwhile
        row = uow.jobs.get(job_id)
        if uow.targets.outcomes(job_id):
            row.owner, row.fencing_token = "executor-c", token + 1
        return real_renew(job_id, owner, token, until)

    uow.jobs.renew = taken_over_after_first
    with pytest.raises(LeaseLost):
        run_job(command(job), uow, f.ports, lease=Lease("executor-b", 30))
    assert len(uow.targets.outcomes(job.job_id)) == 1, "the second host's result was not written"
    assert uow.of_type("executor.job.finished") == []


def test_a_stopping_executor_leaves_the_job_running_for_its_redelivery():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2")
    job = facts_job(["m1", "m2"])
    stop = threading.Event()
    stop.set()
    with pytest.raises(TemporaryError, match="stopping"):
        run_job(command(job), uow, f.ports, stop)
    assert f.ssh.connects == [] and uow.jobs.get(job.job_id).status == "running"
    assert finished(uow) == []
    assert run_job(command(job), uow, f.ports) == "succeeded"  # the redelivery takes it over
    assert uow.jobs.get(job.job_id).attempts == 2


def test_p5_hosts_outside_the_fence_are_refused_and_never_connected():
    uow, f = FakeUnitOfWork(), fleet("m1", "m2", "m3")
    assert run_job(command(facts_job(["m1", "m2", "m3"], fence=["m2"])), uow, f.ports) == "partially_failed"
    assert f.ssh.connects == ["m2"]
    targets = by_host(finished(uow)[0])
    for h in ("m1", "m3"):
        assert (targets[h]["status"], targets[h]["error_class"]) == ("refused", "refused_fence")
    assert targets["m2"]["status"] == "succeeded"


def test_p5_an_empty_fence_touches_nothing():
    uow, f = FakeUnitOfWork(), fleet("m1")
    assert run_job(command(facts_job(["m1"], fence=[])), uow, f.ports) == "failed"
    assert f.ssh.connects == []


def test_p5_kube_nodes_outside_the_fence_are_not_called():
    uow, f = FakeUnitOfWork(), fleet()
    job = ExecutorRun(job_id="job-k", kind="kube", action="cordon", params={"nodes": ["n1", "n2"]},
                      fence=["n1"], secrets={"kubeconfig": "sealed:kubeconfig-text"})
    assert run_job(command(job), uow, f.ports) == "partially_failed"
    assert f.cluster.calls == [("cordon", "n1")] and f.cluster.closed
    assert f.kubeconfigs == ["kubeconfig-text"]  # opened in memory only
    assert by_host(finished(uow)[0])["n2"]["error_class"] == "refused_fence"


def test_c1_a_kube_job_whose_kubeconfig_is_refused_fails_every_target_with_unsafe_kubeconfig():
    uow, f = FakeUnitOfWork(), fleet()

    def refuse(_kubeconfig: str):
        raise FakeKubeFailure("unsafe-kubeconfig", "kubeconfig refused at users[0].user.exec: an exec plugin")

    ports = replace(f.ports, kube=KubePort(cluster=refuse, failure=FakeKubeFailure))
    job = ExecutorRun(job_id="job-u", kind="kube", action="cordon", params={"nodes": ["n1", "n2"]},
                      fence=["n1"], secrets={"kubeconfig": "sealed:exec-kubeconfig"})
    assert run_job(command(job), uow, ports) == "failed"
    targets = by_host(finished(uow)[0])
    assert targets["n1"]["error_class"] == "unsafe-kubeconfig" and "users[0].user.exec" in targets["n1"]["error"]
    assert targets["n2"]["error_class"] == "refused_fence"  # the fence still holds
    assert f.cluster.calls == []


def test_p5_rke_is_not_run_when_cluster_yml_names_a_node_outside_the_fence():
    uow, f = FakeUnitOfWork(), fleet()
    yml = "nodes:\n- {address: 10.0.0.1, hostname_override: n1}\n- {address: 10.0.0.2, hostname_override: n2}\n"
    job = ExecutorRun(job_id="job-r", kind="rke", action="up", fence=["n1"], secrets={"cluster_yml": "sealed:" + yml},
                      targets=[Target(host="n1", address="10.0.0.1", host_key="ssh-ed25519 AAAA")])
    assert run_job(command(job), uow, f.ports) == "failed"
    assert f.provisioner.runs == []
    rke = by_host(finished(uow)[0])["rke"]
    assert rke["error_class"] == "refused_fence" and "n2" in rke["error"]


def test_h1_rke_dials_every_node_with_the_executors_own_key_whatever_cluster_yml_names():
    uow, f = FakeUnitOfWork(), fleet()
    yml = ("ssh_key_path: ~/.ssh/id_rsa\nbastion_host: {address: 10.0.0.9, ssh_key_path: /etc/shadow}\n"
           "nodes:\n- {address: 10.0.0.1, hostname_override: n1, ssh_key_path: /work/.autorke/secret-key,"
           " ssh_key: 'inline', ssh_cert_path: /tmp/cert, role: [worker]}\n")
    job = ExecutorRun(job_id="job-k", kind="rke", action="up", fence=["n1"], secrets={"cluster_yml": "sealed:" + yml},
                      targets=[Target(host="n1", address="10.0.0.1", host_key="ssh-ed25519 AAAA")])
    assert run_job(command(job), uow, f.ports) == "succeeded"
    [given] = [yaml.safe_load(text) for text in f.provisioner.cluster_ymls]
    assert given["ssh_key_path"] == "/executor/fleet-key"
    assert given["nodes"] == [{"address": "10.0.0.1", "hostname_override": "n1", "role": ["worker"]}]
    assert given["bastion_host"] == {"address": "10.0.0.9"}


def test_p2_a_refused_probe_stops_init_on_that_host_only():
    dirty = FakeMachine("m1", components=KUBELET)
    uow, f = FakeUnitOfWork(), fleet(dirty, "m2")
    job = facts_job(["m1", "m2"], action="init", params={"profile": "base"})
    assert run_job(command(job), uow, f.ports) == "partially_failed"
    assert f.ssh.scripts_run("m1") == ["probe"]  # the init script never reached it
    assert f.ssh.scripts_run("m2") == ["probe", "init"]
    targets = by_host(finished(uow)[0])
    assert (targets["m1"]["status"], targets["m1"]["error_class"]) == ("refused", "refused_probe")
    assert "process running: kubelet" in targets["m1"]["error"]
    assert targets["m2"]["status"] == "succeeded"
    detail = next(e for e in uow.of_type("executor.target.finished") if e["host"] == "m1")
    assert detail["result"]["evidence"] == ["process running: kubelet"]


def test_p2_a_probe_without_an_answer_refuses_cleanup():
    uow, f = FakeUnitOfWork(), fleet(FakeMachine("m1", probe_answers=False))
    assert run_job(command(facts_job(["m1"], action="cleanup")), uow, f.ports) == "failed"
    assert f.ssh.scripts_run("m1") == ["probe"]
    assert by_host(finished(uow)[0])["m1"]["error_class"] == "refused_probe"


def test_an_unreachable_host_fails_alone():
    uow, f = FakeUnitOfWork(), fleet(FakeMachine("m1", reachable=False), "m2")
    assert run_job(command(facts_job(["m1", "m2"])), uow, f.ports) == "partially_failed"
    targets = by_host(finished(uow)[0])
    assert targets["m1"]["error_class"] == "unreachable" and targets["m2"]["status"] == "succeeded"


def test_a_job_that_cannot_run_fails_before_touching_anything():
    uow, f = FakeUnitOfWork(), fleet("m1")
    assert run_job(command(facts_job(["m1"], action="init")), uow, f.ports) == "failed"  # no profile
    assert f.ssh.connects == []
    done = finished(uow)[0]
    assert done["error"] == "init needs params.profile" and done["targets"] == []
    assert views.get_job(uow, "job-1")["error"] == "init needs params.profile"


# -- the consumer: one job id at a time in a process -------------------------------------
class FakeDelivery(Delivery):
    def __init__(self) -> None:
        super().__init__("autorke.cmd.executor.run", 1, 1, {})
        self.extended = 0

    async def in_progress(self) -> None:
        self.extended += 1


def test_a_second_delivery_of_a_job_running_in_this_process_waits_for_redelivery():
    release, running = threading.Event(), threading.Event()

    def handler(cmd, stop) -> str:
        running.set()
        release.wait(5)
        return "succeeded"

    consumer = JobConsumer(handler, heartbeat_s=0.01)
    env = Envelope.of(facts_job(["m1"]), source="tests")
    first_delivery = FakeDelivery()

    async def both() -> None:
        first = asyncio.ensure_future(consumer(env, first_delivery))
        while not running.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(TemporaryError, match="running in this process"):
            await consumer(env, FakeDelivery())
        await asyncio.sleep(0.05)
        release.set()
        await first

    asyncio.run(both())
    assert first_delivery.extended >= 1  # the running job kept its delivery alive


# -- the read side --------------------------------------------------------------------
def test_the_job_list_pages_newest_first_without_skipping_rows_of_the_same_time():
    uow = FakeUnitOfWork()
    at = utcnow()
    for i in range(5):
        uow.jobs.add(JobRow(job_id=f"job-{i}", change_id="chg", kind="script", action="facts",
                            status="succeeded", hosts=[], fence=[], params={},
                            created_at=at if i < 4 else at + timedelta(seconds=1)))
    uow.targets.add("job-4", TargetOutcome.ok("m1", 0.1))
    seen, cursor = [], None
    while True:
        page = views.list_jobs(uow, limit=2, cursor=cursor)
        seen += [j["id"] for j in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == ["job-4", "job-3", "job-2", "job-1", "job-0"]
    first = views.list_jobs(uow, limit=1).items[0]
    assert first["targets_by_status"] == {"succeeded": 1}


def test_bad_list_requests_are_refused():
    uow = FakeUnitOfWork()
    with pytest.raises(Problem) as bad:
        views.list_jobs(uow, cursor="!!")
    assert (bad.value.status, bad.value.slug) == (400, "invalid-cursor")
    with pytest.raises(Invalid) as weird:
        views.list_jobs(uow, status="weird")
    assert weird.value.slug == "invalid-request"
    with pytest.raises(Missing):
        views.get_job(uow, "nope")


@pytest.mark.parametrize("signed_by,slug", [(None, "unsigned-command"), ("intruder", "bad-signature")])
def test_c2_an_unsigned_or_untrusted_job_touches_nothing(signed_by, slug):
    """C2: refused before a job row, an event or a connection; the refusal is permanent
    (the bus dead-letters it with the slug)."""
    uow, f = FakeUnitOfWork(), fleet("m1")
    with pytest.raises(Forbidden) as refused:
        run_job(command(facts_job(["m1"], action="cleanup"), signed_by=signed_by), uow, f.ports)
    assert refused.value.slug == slug
    assert (f.ssh.connects, uow.events, uow.jobs.rows, uow.commits) == ([], [], {}, 0)


def test_c2_the_inventory_may_sign_its_own_read_only_jobs_only():
    uow, f = FakeUnitOfWork(), fleet("m1")
    assert run_job(command(facts_job(["m1"]), signed_by="inventory"), uow, f.ports) == "succeeded"
    with pytest.raises(Forbidden, match="inventory may not sign"):
        run_job(command(facts_job(["m1"], job_id="job-2", action="cleanup"), signed_by="inventory"), uow, f.ports)
    assert uow.jobs.get("job-2") is None and f.ssh.scripts_run("m1") == ["facts"]


def test_c2_an_expired_signature_is_refused_unless_the_job_was_accepted_before():
    uow, f = FakeUnitOfWork(), fleet("m1")
    job = facts_job(["m1"])
    old = signer().sign(Envelope.of(job, source="tests", correlation_id=job.change_id),
                        now=utcnow() - timedelta(hours=2))
    with pytest.raises(ExpiredCommand):
        run_job(RunJob(job, old), uow, f.ports)
    assert f.ssh.connects == []
    assert run_job(command(job), uow, f.ports) == "succeeded"  # accepted fresh ...
    assert run_job(RunJob(job, old), uow, f.ports) == "replayed"  # ... then its old delivery only replays
