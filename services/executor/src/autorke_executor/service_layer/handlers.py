"""The executor's use case: run one ``executor.run`` command, exactly once per job id.
:func:`run_job` is the handler; its steps, each one unit of work, are the functions below it.

0. The command must be signed by a trusted signer, within what that signer may ask
   (:func:`check_signature`, C2): anything else is refused before a job row, an event or a
   connection exists, and the bus dead-letters it with the slug.
1. The job id is the idempotency key (:func:`start_job`). A job already finished answers
   with its stored result (its events are sent again, ``replayed=True``, once per command
   envelope). A job runs under a *lease* in the database (H4: owner, expiry, fencing
   token), so across replicas it runs in one executor at a time: a job found ``running``
   whose lease is held by another executor is left to it (``JobHeld``: the delivery comes
   back later); one whose lease ran out (its executor died) is taken over with a
   compare-and-set that raises the token, and only the targets without a recorded result
   run again. The lease is renewed while the job runs, and every write of the run checks
   it: an executor whose lease was taken over writes nothing more (``LeaseLost``).
2. Targets outside the fence are refused before anything connects (P5); init and cleanup
   run the live probe first and are refused on a host that shows Kubernetes (P2,
   :mod:`.ssh_targets`).
3. Targets run in bounded parallel (:mod:`.fanout`); each finished target is written with
   its ``executor.target.finished`` event in one unit of work (:func:`record_results`), live
   output is batched into ``executor.target.output`` events, and the last unit of work
   closes the job (:func:`finish_job`).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tenacity import RetryCallState, retry, retry_if_exception_type, stop_after_delay, wait_exponential

from autorke_common.catalogue.executor import (
    ExecutorRun,
    JobFinished,
    JobStarted,
    TargetFinished,
    TargetOutput,
    TargetSummary,
)
from autorke_common.envelope import Envelope, aware, utcnow
from autorke_common.errors import DomainError, PermanentError, StoreUnavailable, TemporaryError
from autorke_common.signing import ExpiredCommand
from autorke_executor.adapters.orm import JobRow
from autorke_executor.domain.model import (
    InvalidJob,
    JobHeld,
    LeaseLost,
    TargetOutcome,
    fence_refusal,
    job_status,
    split_by_fence,
    validate,
)
from autorke_executor.service_layer.fanout import fan_out
from autorke_executor.service_layer.live_output import LiveOutput
from autorke_executor.service_layer.plans import PLANS, Plan
from autorke_executor.service_layer.ports import Ports
from autorke_executor.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
SOURCE = "executor"
CONSUMER = "executor.run"
_IDS = uuid.UUID("6f1c2a52-6a43-4c1e-9a8e-2b7f3f0c9e11")
_SEQ_PER_ATTEMPT = 1_000_000  # output events of a later attempt never reuse an earlier one's ids


@dataclass(frozen=True)
class RunJob:
    """An ``executor.run`` command as delivered: the job, and the envelope it came in (its
    id marks a replay as answered and is the events' causation; its actor signs them)."""

    job: ExecutorRun
    envelope: Envelope


@dataclass(frozen=True)
class Lease:
    """This executor's claim on the jobs it runs: who it is (one per process) and how long
    a claim holds without renewal (a dead executor's job is taken over after that)."""

    owner: str
    duration_s: float = 30.0

    def until(self) -> datetime:
        return utcnow() + timedelta(seconds=self.duration_s)


def new_lease(duration_s: float = 30.0) -> Lease:
    """The lease of one executor (its host, process and a random part: two executors in one
    process are two owners)."""
    return Lease(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", duration_s)


@functools.cache
def _default_lease(pid: int) -> Lease:
    return new_lease()


@dataclass(frozen=True)
class Started:
    """A job this delivery runs: its attempt number, the hosts already finished and the
    fencing token of this run's lease."""

    attempt: int
    done_hosts: frozenset[str] = frozenset()
    token: int = 1


def run_job(cmd: RunJob, uow: UnitOfWork, ports: Ports, stop: threading.Event | None = None,
            lease: Lease | None = None) -> str:
    """Run (or replay, or take over) the job; returns its final status, ``"replayed"`` for
    a job already finished. ``stop`` set: no new target starts, and the job is left
    ``running`` for its redelivery (TemporaryError). Raises :class:`JobHeld` while another
    executor holds the job's lease, :class:`LeaseLost` once this one lost it."""
    lease = lease or _default_lease(os.getpid())
    check_signature(cmd, uow, ports)
    started = start_job(cmd, uow, lease)
    if started is None:
        return "replayed"
    t0 = time.monotonic()
    live = LiveOutput()
    try:
        validate(cmd.job)
        plan = PLANS[cmd.job.kind](with_claims_fetched(cmd.job, ports), live, ports)
    except InvalidJob as exc:
        return finish_job(cmd, uow, time.monotonic() - t0, started, lease, error=str(exc))
    except (PermanentError, ValueError, KeyError) as exc:
        return finish_job(cmd, uow, time.monotonic() - t0, started, lease, error=f"{type(exc).__name__}: {exc}")
    try:
        _run_plan(cmd, uow, plan, live, started, lease, stop)
    finally:
        if plan.close:
            plan.close()
    if stop is not None and stop.is_set():
        raise TemporaryError("executor stopping", delay=1.0)
    return finish_job(cmd, uow, time.monotonic() - t0, started, lease)


def with_claims_fetched(job: ExecutorRun, ports: Ports) -> ExecutorRun:
    """The job with each secret that came as a claim reference fetched from its holder
    (still sealed; its digest, which the signature covers, checked). A holder that cannot
    be reached raises :class:`~autorke_common.claims.ClaimUnavailable` (temporary: the job
    is redelivered before any target started); a refused claim fails the job."""
    if not job.secrets:
        return job
    return job.model_copy(update={"secrets": {n: ports.claims.resolve(v) for n, v in job.secrets.items()}})


def check_signature(cmd: RunJob, uow: UnitOfWork, ports: Ports) -> None:
    """Refuse (raise) a command that is unsigned, badly signed, signed by a key this
    executor does not trust or by a signer outside its scope (:func:`.model.signer_may_run`).
    Too old a signature is refused too, unless the job was accepted already: its
    redelivery after a crash, or a replay that only answers the stored result."""
    try:
        signer = ports.verifier.verify(cmd.envelope)
    except ExpiredCommand as exc:
        with uow:
            accepted = uow.jobs.get(cmd.job.job_id) is not None
        if not accepted:
            _refused(cmd, exc)
            raise
        return
    except DomainError as exc:
        _refused(cmd, exc)
        raise
    log.debug("job %s signed by %s", cmd.job.job_id, signer)


def _refused(cmd: RunJob, exc: DomainError) -> None:  # never the data: it holds sealed secrets
    log.warning("refused executor.run %s (job %s, %s %s, from %s): %s: %s", cmd.envelope.id, cmd.job.job_id,
                cmd.job.kind, cmd.job.action, cmd.envelope.source, exc.slug, exc.detail)


def start_job(cmd: RunJob, uow: UnitOfWork, lease: Lease) -> Started | None:
    """Record the job as running under this executor's lease (new, or taken over once the
    lease of the executor that ran it ran out) and say so in ``executor.job.started``;
    None for a job already finished (its result is replayed). Raises :class:`JobHeld`
    while another executor holds it."""
    job = cmd.job
    with uow:
        row = uow.jobs.get(job.job_id)
        if row is not None and row.status != "running":
            if not uow.already_processed(CONSUMER, cmd.envelope.id):
                _replay(cmd, uow, row)
            uow.commit()
            log.info("job %s already %s: stored result returned", job.job_id, row.status)
            return None
        if row is None:
            row = _new_row(cmd, lease)
            uow.jobs.add(row)  # JobHeld when another executor added it first
            attempt, token = 1, 1
        else:  # found running: held by a live executor, or its executor died
            _check_lease_free(row, lease)
            seen_token, seen_attempts = row.fencing_token, row.attempts
            if not uow.jobs.claim(job.job_id, seen_token, lease.owner, lease.until()):
                raise JobHeld(f"job {job.job_id} was just taken over by another executor", delay=2.0)
            attempt, token = seen_attempts + 1, seen_token + 1
        done = frozenset(o.host for o in uow.targets.outcomes(job.job_id))
        uow.emit(_event(cmd, JobStarted(job_id=job.job_id, change_id=job.change_id, kind=job.kind,
                                        action=job.action, hosts=list(row.hosts),
                                        redelivery=attempt > 1), "started", attempt),
                 aggregate=job.job_id)
        uow.commit()
    if done:
        log.info("job %s taken over: %d target(s) already finished are not run again", job.job_id, len(done))
    return Started(attempt, done, token)


def _check_lease_free(row: JobRow, lease: Lease) -> None:
    expires = row.lease_expires_at
    if expires is None or row.owner in (None, lease.owner):
        return
    left = aware(expires) - utcnow()
    if left.total_seconds() > 0:
        raise JobHeld(f"job {row.job_id} is running on {row.owner} (lease for {left.total_seconds():.0f} s more)",
                      delay=min(max(left.total_seconds(), 1.0), 30.0))


def keep_lease(cmd: RunJob, uow: UnitOfWork, started: Started, lease: Lease) -> None:
    """Renew the job's lease in a unit of its own; :class:`LeaseLost` once it was taken over."""
    with uow:
        _renew(cmd, uow, started, lease)
        uow.commit()


def _renew(cmd: RunJob, uow: UnitOfWork, started: Started, lease: Lease) -> None:
    if not uow.jobs.renew(cmd.job.job_id, lease.owner, started.token, lease.until()):
        raise LeaseLost(f"job {cmd.job.job_id}: another executor took it over; this run writes nothing more",
                        delay=1.0)


def record_results(cmd: RunJob, uow: UnitOfWork, started: Started, lease: Lease, outcomes: list[TargetOutcome],
                   lines: list[dict], seq: int) -> None:
    """Store finished targets with their events, and a batch of live output, in one unit
    (which renews the lease first: a run that lost it writes nothing)."""
    job = cmd.job
    with uow:
        _renew(cmd, uow, started, lease)
        if lines:
            uow.emit(_event(cmd, TargetOutput(job_id=job.job_id, change_id=job.change_id, seq=seq, lines=lines),
                            "output", started.attempt, seq), aggregate=job.job_id)
        for o in map(functools.partial(_large_claimed, uow), outcomes):
            uow.targets.add(job.job_id, o)
            uow.emit(_event(cmd, _target_finished(job.job_id, job.change_id, o), "target", o.host),
                     aggregate=job.job_id)
        uow.commit()


def _large_claimed(uow: UnitOfWork, outcome: TargetOutcome) -> TargetOutcome:
    """The outcome with a large sealed result (an rkestate of a big cluster) kept as a claim
    and named by its reference: its events stay under the bus's payload limit."""
    sealed = outcome.result.get("rkestate")
    claimed = uow.claim_large(sealed) if isinstance(sealed, str) else sealed
    if claimed is sealed:
        return outcome
    return dataclasses.replace(outcome, result={**outcome.result, "rkestate": claimed})


def finish_job(cmd: RunJob, uow: UnitOfWork, duration_s: float, started: Started, lease: Lease,
               error: str | None = None) -> str:
    """Close the job from its stored targets (``error``: it could not run at all), emit
    ``executor.job.finished`` and mark the command handled; returns the job's status."""
    job = cmd.job
    with uow:
        _renew(cmd, uow, started, lease)
        row = uow.jobs.get(job.job_id)
        if row is None:  # start_job committed it; only a bug gets here
            raise RuntimeError(f"job {job.job_id} vanished while running")
        outcomes = uow.targets.outcomes(job.job_id)
        row.status = "failed" if error else job_status(outcomes)
        row.finished_at = utcnow()
        row.duration_s = round(duration_s, 3)
        if error:
            row.params = {**row.params, "_error": error}
        uow.emit(_event(cmd, _job_finished(row, outcomes, error=error), "finished"), aggregate=job.job_id)
        uow.already_processed(CONSUMER, cmd.envelope.id)
        uow.commit()
        log.info("job %s %s: %d target(s)", job.job_id, row.status, len(outcomes))
        return row.status


def _say_db_blip(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("%s; the results in hand are written once it is back (retry %d)", exc, state.attempt_number)


#: A write of the run retried through a database blip (a restart, a fail-over): the outcomes
#: in hand are written once the database is back. Failing the delivery instead would lose
#: them, and the redelivery would run those hosts again (a script twice on a machine). A run
#: whose lease was taken over meanwhile gets LeaseLost on the retried write, as ever.
through_db_blips = retry(retry=retry_if_exception_type(StoreUnavailable),
                         wait=wait_exponential(multiplier=0.2, max=5.0), stop=stop_after_delay(300),
                         before_sleep=_say_db_blip, reraise=True)


def _run_plan(cmd: RunJob, uow: UnitOfWork, plan: Plan, live: LiveOutput, started: Started, lease: Lease,
              stop: threading.Event | None) -> None:
    job, done = cmd.job, started.done_hosts
    hosts = [plan.host_of(i) for i in plan.items]
    inside, outside = split_by_fence(hosts, job.fence) if plan.fenced else (hosts, [])
    allowed = set(inside)
    refused = [fence_refusal(h) for h in outside if h not in done]
    pending = [i for i in plan.items if plan.host_of(i) in allowed and plan.host_of(i) not in done]
    seq = started.attempt * _SEQ_PER_ATTEMPT
    record = through_db_blips(record_results)
    if refused:
        record(cmd, uow, started, lease, refused, [], seq)
    renewed = time.monotonic()
    for batch in fan_out(pending, plan.work, plan.host_of, job.concurrency, stop=stop):
        for outcome in batch:
            live.close_host(outcome.host)
        lines = live.drain()
        if batch or lines:
            seq += 1
            record(cmd, uow, started, lease, batch, lines, seq)
            renewed = time.monotonic()
        elif time.monotonic() - renewed >= lease.duration_s / 3:  # a long quiet target (rke up)
            through_db_blips(keep_lease)(cmd, uow, started, lease)
            renewed = time.monotonic()
    while lines := live.drain():
        seq += 1
        record(cmd, uow, started, lease, [], lines, seq)


def _replay(cmd: RunJob, uow: UnitOfWork, row: JobRow) -> None:
    outcomes = uow.targets.outcomes(row.job_id)
    for o in outcomes:
        uow.emit(_event(cmd, _target_finished(row.job_id, row.change_id, o), "replay", cmd.envelope.id, o.host),
                 aggregate=row.job_id)
    uow.emit(_event(cmd, _job_finished(row, outcomes, replayed=True, error=(row.params or {}).get("_error")),
                    "replay", cmd.envelope.id), aggregate=row.job_id)


def _new_row(cmd: RunJob, lease: Lease) -> JobRow:
    job = cmd.job
    return JobRow(job_id=job.job_id, change_id=job.change_id, kind=job.kind, action=job.action,
                  status="running", hosts=[t.host for t in job.targets] or list(job.params.get("nodes", [])),
                  fence=list(job.fence), params=_public_params(job.params),
                  requested_by=job.requested_by or cmd.envelope.actor, created_at=utcnow(),
                  owner=lease.owner, lease_expires_at=lease.until(), fencing_token=1)


def event_id(*parts: object) -> str:
    """Deterministic envelope ids: the same fact re-emitted after a crash is de-duplicated."""
    return str(uuid.uuid5(_IDS, "|".join(str(p) for p in parts)))


def _event(cmd: RunJob, message: Any, *key: object) -> Envelope:
    job = cmd.job
    return Envelope.of(message, source=SOURCE, correlation_id=job.change_id or job.job_id,
                       causation_id=cmd.envelope.id, actor=cmd.envelope.actor, id=event_id(job.job_id, *key))


def _public_params(params: dict) -> dict:
    """What of the parameters is kept: everything but bulky documents."""
    return {k: v for k, v in params.items() if k not in ("cluster_yml",)}


def _target_finished(job_id: str, change_id: str | None, o: TargetOutcome) -> TargetFinished:
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
