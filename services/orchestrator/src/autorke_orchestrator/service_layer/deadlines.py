"""Every order the orchestrator sends has a deadline (H3): its job's budget (the command
timeout for each wave of targets, :attr:`Order.budget_s`) plus a grace for the queue and
redeliveries, counted from when it was sent. A job still unanswered after that fails the
targets its step still waits for as ``timeout``, so the change can be retried, continued
or compensated like after any failure instead of holding its machines forever; a late
answer of that attempt is stale and changes nothing. Runs periodically in one replica at
a time; a job is looked at once after its deadline and then closed."""
from __future__ import annotations

from autorke_common.envelope import utcnow
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.commands import EVERY_TARGET, TakeResults
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

CONSUMER = "orchestrator-deadlines"


def expire_overdue(uow: UnitOfWork, grace_s: float) -> int:
    """Fail the waiting targets of every job past its deadline; the number looked at."""
    now = utcnow()
    with uow:
        due = uow.jobs.overdue(now, grace_s)
    for job_id in due:
        outcome = Outcome("failed", f"no answer within the order's deadline (its job's timeout and {grace_s:.0f} s "
                                    f"grace): the job may still be running or may have been lost", "timeout")
        handlers.take_results(TakeResults(CONSUMER, f"deadline:{job_id}", job_id, {EVERY_TARGET: outcome}), uow)
        with uow:
            uow.jobs.close(job_id, now)
            uow.commit()
    return len(due)
