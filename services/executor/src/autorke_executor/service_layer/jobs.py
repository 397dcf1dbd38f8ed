"""Running one ``executor.run`` command, exactly once per job id.

1. The job id is the idempotency key. A job already finished answers with its stored
   result (its events are sent again, ``replayed=True``); a job found ``running`` was cut
   short by a crash: only the targets without a recorded result are run again.
2. Targets outside the fence are refused before anything connects (P5).
3. Targets run in bounded parallel (:mod:`.fanout`); each finished target is written with
   its ``executor.target.finished`` event in one unit of work, live output is batched
   into ``executor.target.output`` events, and the last unit of work closes the job.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autorke_common.bus import Delivery
from autorke_common.catalogue.executor import (
    ExecutorRun,
    JobFinished,
    JobStarted,
    TargetFinished,
    TargetOutput,
    TargetSummary,
)
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import PermanentError, TemporaryError
from autorke_common.outbox import Database
from pydantic import ValidationError

from autorke_executor.adapters import repository as repo
from autorke_executor.adapters.orm import JobRow
from autorke_executor.domain.model import (
    InvalidJob,
    TargetOutcome,
    fence_refusal,
    job_status,
    split_by_fence,
    validate,
)
from autorke_executor.service_layer.fanout import fan_out
from autorke_executor.service_layer.live_output import LiveOutput

log = logging.getLogger(__name__)
SOURCE = "executor"
CONSUMER = "executor.run"
_IDS = uuid.UUID("6f1c2a52-6a43-4c1e-9a8e-2b7f3f0c9e11")



@dataclass
class Plan:
    """How one job's work is cut up: its items (SSH targets, node names, ...), the fence
    key of an item, the work done per item, and what to release when the job ends."""

    items: list[Any]
    host_of: Callable[[Any], str]
    work: Callable[[Any], TargetOutcome]
    close: Callable[[], None] | None = None
    fenced: bool = True


WorkPlan = Callable[[ExecutorRun, LiveOutput], Plan]


def event_id(*parts: object) -> str:
    """Deterministic envelope ids: the same fact re-emitted after a crash is de-duplicated."""
    return str(uuid.uuid5(_IDS, "|".join(str(p) for p in parts)))


@dataclass
class JobContext:
    job: ExecutorRun
    command: Envelope
    attempt: int

    def envelope(self, message: Any, *key: object) -> Envelope:
        return Envelope.of(message, source=SOURCE, correlation_id=self.job.change_id or self.job.job_id,
                           causation_id=self.command.id, actor=self.command.actor,
                           id=event_id(self.job.job_id, *key))


class JobRunner:
    def __init__(self, db: Database, plans: dict[str, WorkPlan], heartbeat_s: float = 10.0) -> None:
        self.db = db
        self.plans = plans
        self.heartbeat_s = heartbeat_s
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self.stop = threading.Event()

    # -- bus entry point -----------------------------------------------------------------
    async def handle(self, envelope: Envelope, delivery: Delivery) -> None:
        try:
            job = ExecutorRun.model_validate(envelope.data)
        except ValidationError as exc:
            raise PermanentError(f"not an executor.run command: {exc.error_count()} errors: "
                                 f"{exc.errors()[0]['msg']}") from None
        with self._lock:
            if job.job_id in self._running:
                raise TemporaryError(f"job {job.job_id} is running in this process", delay=5.0)
            self._running.add(job.job_id)
        try:
            task = asyncio.ensure_future(asyncio.to_thread(self.run, job, envelope))
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.heartbeat_s)
                if done:
                    break
                try:
                    await delivery.in_progress()
                except Exception as exc:  # noqa: BLE001 - the job goes on; redelivery is idempotent
                    log.warning("job %s: could not extend the ack wait: %s", job.job_id, exc)
            task.result()
        finally:
            with self._lock:
                self._running.discard(job.job_id)

    # -- the job, in a worker thread -----------------------------------------------------
    def run(self, job: ExecutorRun, command: Envelope) -> str:
        """Run (or replay) the job; returns its final status."""
        started = self._begin(job, command)
        if started is None:
            return "replayed"
        ctx, done_hosts = started
        t0 = time.monotonic()
        live = LiveOutput()
        try:
            validate(job)
            plan = self.plans[job.kind](job, live)
        except InvalidJob as exc:
            return self._finish(ctx, t0, error=str(exc))
        except (PermanentError, ValueError, KeyError) as exc:
            return self._finish(ctx, t0, error=f"{type(exc).__name__}: {exc}")
        try:
            self._run_plan(ctx, plan, live, done_hosts)
        finally:
            if plan.close:
                plan.close()
        if self.stop.is_set():
            raise TemporaryError("executor stopping", delay=1.0)
        return self._finish(ctx, t0)

    def _run_plan(self, ctx: JobContext, plan: Plan, live: LiveOutput, done_hosts: set[str]) -> None:
        job = ctx.job
        hosts = [plan.host_of(i) for i in plan.items]
        inside, outside = split_by_fence(hosts, job.fence) if plan.fenced else (hosts, [])
        allowed = set(inside)
        refused = [fence_refusal(h) for h in outside if h not in done_hosts]
        pending = [i for i in plan.items if plan.host_of(i) in allowed and plan.host_of(i) not in done_hosts]
        seq = ctx.attempt * 1_000_000
        if refused:
            self._record(ctx, refused, [], seq)
        for batch in fan_out(pending, plan.work, plan.host_of, job.concurrency, stop=self.stop):
            for outcome in batch:
                live.close_host(outcome.host)
            lines = live.drain()
            if batch or lines:
                seq += 1
                self._record(ctx, batch, lines, seq)
        while lines := live.drain():
            seq += 1
            self._record(ctx, [], lines, seq)

    def _begin(self, job: ExecutorRun, command: Envelope) -> tuple[JobContext, set[str]] | None:
        with self.db.unit_of_work() as uow:
            row = repo.get_job(uow.session, job.job_id)
            if row is not None and row.status != "running":
                if not uow.already_processed(CONSUMER, command.id):
                    self._replay(uow, row, JobContext(job, command, row.attempts))
                uow.commit()
                log.info("job %s already %s: stored result returned", job.job_id, row.status)
                return None
            if row is None:
                row = JobRow(job_id=job.job_id, change_id=job.change_id, kind=job.kind,
                             action=job.action, status="running",
                             hosts=[t.host for t in job.targets] or list(job.params.get("nodes", [])),
                             fence=list(job.fence), params=_public_params(job.params),
                             requested_by=job.requested_by or command.actor, created_at=utcnow())
                uow.session.add(row)
            else:
                row.attempts += 1
            ctx = JobContext(job, command, row.attempts)
            done = {t.host for t in repo.finished_targets(uow.session, job.job_id)}
            uow.emit(ctx.envelope(JobStarted(job_id=job.job_id, change_id=job.change_id, kind=job.kind,
                                             action=job.action, hosts=list(row.hosts),
                                             redelivery=row.attempts > 1), "started", row.attempts),
                     aggregate=job.job_id)
            uow.commit()
        if done:
            log.info("job %s resumed: %d target(s) already finished are not run again",
                     job.job_id, len(done))
        return ctx, done

    def _record(self, ctx: JobContext, outcomes: list[TargetOutcome], lines: list[dict], seq: int) -> None:
        job = ctx.job
        with self.db.unit_of_work() as uow:
            if lines:
                uow.emit(ctx.envelope(TargetOutput(job_id=job.job_id, change_id=job.change_id, seq=seq,
                                                   lines=lines), "output", ctx.attempt, seq),
                         aggregate=job.job_id)
            for o in outcomes:
                repo.add_target(uow.session, job.job_id, o)
                uow.emit(ctx.envelope(_finished_event(job.job_id, job.change_id, o), "target", o.host),
                         aggregate=job.job_id)
            uow.commit()

    def _finish(self, ctx: JobContext, t0: float, error: str | None = None) -> str:
        job = ctx.job
        with self.db.unit_of_work() as uow:
            row = repo.get_job(uow.session, job.job_id)
            outcomes = [repo.row_outcome(r) for r in repo.finished_targets(uow.session, job.job_id)]
            row.status = "failed" if error else job_status(outcomes)
            row.finished_at = utcnow()
            row.duration_s = round(time.monotonic() - t0, 3)
            if error:
                row.params = {**row.params, "_error": error}
            uow.emit(ctx.envelope(_job_finished(row, outcomes, error=error), "finished"),
                     aggregate=job.job_id)
            uow.already_processed(CONSUMER, ctx.command.id)
            uow.commit()
            log.info("job %s %s: %d target(s)", job.job_id, row.status, len(outcomes))
            return row.status

    def _replay(self, uow, row: JobRow, ctx: JobContext) -> None:
        outcomes = [repo.row_outcome(r) for r in repo.finished_targets(uow.session, row.job_id)]
        for o in outcomes:
            uow.emit(ctx.envelope(_finished_event(row.job_id, row.change_id, o), "replay",
                                  ctx.command.id, o.host), aggregate=row.job_id)
        uow.emit(ctx.envelope(_job_finished(row, outcomes, replayed=True,
                                            error=(row.params or {}).get("_error")),
                              "replay", ctx.command.id), aggregate=row.job_id)


def _public_params(params: dict) -> dict:
    """What of the parameters is kept: everything but bulky documents."""
    return {k: v for k, v in params.items() if k not in ("cluster_yml",)}


def _finished_event(job_id: str, change_id: str | None, o: TargetOutcome) -> TargetFinished:
    return TargetFinished(job_id=job_id, change_id=change_id, host=o.host, status=o.status,
                          exit_code=o.exit_code, duration_s=o.duration_s, output=o.output,
                          error_class=o.error_class, error=o.error, result=o.result)


def _job_finished(row: JobRow, outcomes: list[TargetOutcome], replayed: bool = False,
                  error: str | None = None) -> JobFinished:
    return JobFinished(
        job_id=row.job_id, change_id=row.change_id, kind=row.kind, action=row.action,
        status=row.status, replayed=replayed, error=error, duration_s=row.duration_s or 0.0,
        targets=[TargetSummary(host=o.host, status=o.status, exit_code=o.exit_code,
                               error_class=o.error_class, error=o.error, duration_s=o.duration_s)
                 for o in outcomes])
