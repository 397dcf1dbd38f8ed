"""H4: two executors on one database, given the same job, run it once. The job's second
command (the same job id in a new envelope, as a duplicate publish or a redelivery while
the first executor is still alive would bring it) reaches the other executor while the
first runs the job: it finds the job's lease held, runs nothing and comes back later,
when it answers with the stored result. Real NATS, a real database, the lab's sshd
machines: each machine's own command log shows one run."""
from __future__ import annotations

from sqlalchemy import text

from autorke_common.db import make_engine
from fixtures.waiting import wait

from .conftest import commands_of, new_job, send, target, wait_finished


def test_h4_two_executors_given_the_same_job_run_it_once(lab_factory, events, executor_factory, database):
    lab = lab_factory(machines=10)
    names = [m["name"] for m in lab.machines]
    for _ in range(2):  # one job at a time each: the second command goes to the idle one
        executor_factory(lab, job_parallelism=1, job_ack_wait_s=6)
    job = new_job(kind="script", action="facts", targets=[target(lab, n) for n in names], fence=names,
                  concurrency=1)
    send(events, job)
    wait(lambda: events.of(job.job_id, "executor.target.finished"), 60, "the first target of the job finished")
    send(events, job)  # the same job again, while it runs

    [finished] = wait_finished(events, job.job_id, timeout=120)
    assert finished["data"]["status"] == "succeeded" and not finished["data"]["replayed"]
    replayed = wait_finished(events, job.job_id, timeout=120, count=2)[1]["data"]
    assert replayed["replayed"], "the second command is answered with the stored result"
    for name in names:
        assert len(commands_of(lab, name)) == 1, f"{name} ran the job {len(commands_of(lab, name))} times"
    started = events.of(job.job_id, "executor.job.started")
    assert [s["data"]["redelivery"] for s in started] == [False], "nobody took the live job over"
    url, schema = database
    engine = make_engine(url, schema=schema)
    try:
        with engine.connect() as conn:
            attempts, token = conn.execute(text("SELECT attempts, fencing_token FROM jobs WHERE job_id = :j"),
                                           {"j": job.job_id}).one()
    finally:
        engine.dispose()
    assert (attempts, token) == (1, 1)
