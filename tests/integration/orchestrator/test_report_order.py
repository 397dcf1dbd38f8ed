"""A job's summary (``executor.job.finished``) handled before its target's own report
(``executor.target.finished``, which carries the result) must not settle the target: with
two orchestrator replicas, or a redelivery, the two are handled in either order. Found by
the chaos suite: an rke1 node.add stored no rkestate because the summary had marked the
rke run succeeded without its result, and the report with the sealed state came too late."""
from __future__ import annotations

from autorke_common.catalogue.executor import JobFinished, TargetFinished, TargetSummary

from .conftest import Orchestrator
from .test_m10_failed_rke_state import _stores, to_rke_up
from .test_partial_failure import to_join


def test_a_summary_before_the_targets_report_keeps_the_reports_result(orch: Orchestrator):
    o = orch
    cid, up = to_rke_up(o, f"{o.tag}f007")
    o.driver.publish(JobFinished(job_id=up.job_id, change_id=cid, kind="rke", action=up.action, status="succeeded",
                                 targets=[TargetSummary(host="rke", status="succeeded")], duration_s=1.0), cid)
    o.driver.publish(TargetFinished(job_id=up.job_id, change_id=cid, host="rke", status="succeeded", exit_code=0,
                                    duration_s=1.0, result={"rkestate": "sealed-state-of-the-run"}), cid)
    state = o.driver.wait(lambda: _stores(o, cid, "cluster.rkestate"), what="the run's state stored")[0]
    assert state.data["content_sealed"] == "sealed-state-of-the-run"


def test_a_job_that_stopped_fails_only_the_targets_it_did_not_report(orch: Orchestrator):
    o = orch
    targets = [f"{o.tag}f001", f"{o.tag}f002"]
    cid = to_join(o, targets)
    join = o.driver.wait_run(cid, "join")
    o.driver.publish(JobFinished(job_id=join.job_id, change_id=cid, kind=join.kind, action=join.action,
                                 status="failed", error="lease lost", duration_s=1.0,
                                 targets=[TargetSummary(host=targets[0], status="succeeded")]), cid)
    o.driver.publish(TargetFinished(job_id=join.job_id, change_id=cid, host=targets[0], status="succeeded",
                                    exit_code=0, duration_s=1.0), cid)
    c = o.wait_status(cid, "partially_failed")
    step = next(s for s in c["plan"]["steps"] if s["id"] == "join")
    assert step["targets"][targets[0]]["status"] == "succeeded"
    assert step["targets"][targets[1]]["status"] == "failed" and "lease lost" in step["targets"][targets[1]]["error"]
