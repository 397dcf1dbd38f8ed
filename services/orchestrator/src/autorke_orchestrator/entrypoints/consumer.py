"""The orchestrator's bus subscriptions: the executor's job reports, the inventory's
events (read model and answers to our commands), netcfg's answers to the pool and ticket steps and
the dead letters of our commands (a step's failure: no answer will come).
Ordered (one message at a time per consumer), so a target's result is recorded before its
job's summary. The handlers are plain functions: the bus runs them in a worker thread,
each with a unit of work of its own."""
from __future__ import annotations

from collections.abc import Callable

from autorke_common.bus import EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.catalogue.executor import JobFinished, TargetFinished
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import dead_letters, handlers, netcfg_answers, projection, ticket_answers
from autorke_orchestrator.service_layer.commands import EVERY_TARGET, TakeResults
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

EXECUTOR_CONSUMER = "orchestrator-executor"


def results_of(env: Envelope) -> TakeResults | None:
    """The results an executor report carries (None: not a report)."""
    if env.type not in (TargetFinished.TYPE, JobFinished.TYPE):
        return None
    msg = env.parsed()
    if isinstance(msg, TargetFinished):
        return TakeResults(EXECUTOR_CONSUMER, env.id, msg.job_id,
                           {msg.host: Outcome(msg.status, msg.error, msg.error_class, msg.result)})
    # The job's summary settles no target it lists: each of those has its own report, with its
    # result (an rke run's new rkestate), which may be handled after the summary (another
    # replica, a redelivery) and must not then be stale. A job that stopped with an error fails
    # every target still waiting but those.
    outcomes = {EVERY_TARGET: Outcome("failed", msg.error, "failed")} if msg.error else {}
    return TakeResults(EXECUTOR_CONSUMER, env.id, msg.job_id, outcomes, frozenset(t.host for t in msg.targets))


def executor_reports(unit_of_work: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def handle(env: Envelope, _: Delivery) -> None:
        cmd = results_of(env)
        if cmd is not None:
            handlers.take_results(cmd, unit_of_work())

    return ConsumerSpec(durable=EXECUTOR_CONSUMER, subject="autorke.events.executor.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0), run_in_thread=True)


def inventory_events(unit_of_work: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def handle(env: Envelope, _: Delivery) -> None:
        projection.handle(env, unit_of_work())

    return ConsumerSpec(durable=projection.CONSUMER, subject="autorke.events.inventory.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0), run_in_thread=True)


def netcfg_answers_of(unit_of_work: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def handle(env: Envelope, _: Delivery) -> None:
        netcfg_answers.handle(env, unit_of_work())

    return ConsumerSpec(durable=netcfg_answers.CONSUMER, subject="autorke.events.netcfg.ippool.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0), run_in_thread=True)


def ticket_answers_of(unit_of_work: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def handle(env: Envelope, _: Delivery) -> None:
        ticket_answers.handle(env, unit_of_work())

    return ConsumerSpec(durable=ticket_answers.CONSUMER, subject="autorke.events.netcfg.ticket.>", handler=handle,
                        stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0), run_in_thread=True)


def dead_letters_of(unit_of_work: Callable[[], UnitOfWork]) -> ConsumerSpec:
    def handle(env: Envelope, _: Delivery) -> None:
        dead_letters.handle(env, unit_of_work())

    return ConsumerSpec(durable=dead_letters.CONSUMER, subject=MessageDeadLettered.message_subject(),
                        handler=handle, stream=EVENTS_STREAM, max_deliver=20, backoff_s=(0.2, 1.0, 5.0, 15.0),
                        run_in_thread=True)
