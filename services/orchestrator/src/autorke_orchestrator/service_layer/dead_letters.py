"""A command of ours that a service gave up on (H3): the bus dead-lettered it (a refusal,
or too many failed deliveries) and no answer will ever come, so the step waiting for it
would wait forever with its machines locked. The dead-letter event names the command by
its envelope id, which the orchestrator chose (``dispatch``): ``cmd-<job id>`` for an
executor job, ``<job id>|<host>`` (or ``|#<index>``) for an inventory or netcfg command.
It becomes a failed result of that step (``dead_lettered``, with the service's reason),
so the change fails, or retries or compensates, as after any failure. Idempotent by the
dead letter's id; dead letters of events, or of commands that are not ours, are ignored."""
from __future__ import annotations

from autorke_common.bus import COMMANDS_STREAM
from autorke_common.catalogue.bus import MessageDeadLettered
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.commands import EVERY_TARGET, TakeResults
from autorke_orchestrator.service_layer.dispatch import parse_command_id
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

CONSUMER = "orchestrator-dead-letters"
#: the envelope id of an executor job the orchestrator sends (``dispatch``)
EXECUTOR_PREFIX = "cmd-"


def handle(env: Envelope, uow: UnitOfWork) -> None:
    if env.type != MessageDeadLettered.TYPE:
        return
    msg: MessageDeadLettered = env.parsed()
    if msg.stream != COMMANDS_STREAM or not msg.message_id:
        return
    found = _step_target(msg.message_id, uow)
    if found is None:
        return
    job_id, host = found
    outcome = Outcome("failed", f"{msg.consumer} gave the command up after {msg.deliveries} "
                                f"deliveries: {msg.error}"[:2000], "dead_lettered")
    handlers.take_results(TakeResults(CONSUMER, env.id, job_id, {host: outcome}), uow)


def _step_target(message_id: str, uow: UnitOfWork) -> tuple[str, str] | None:
    """(job id, host) the command stood for; every target for an executor job."""
    if message_id.startswith(EXECUTOR_PREFIX):
        return message_id[len(EXECUTOR_PREFIX):], EVERY_TARGET
    parsed = parse_command_id(message_id)
    if parsed is None:
        return None
    job_id, host = parsed
    if host.startswith("#"):  # a long host name: its index in the job
        with uow:
            hosts = uow.jobs.hosts(job_id)
        if hosts is None or not host[1:].isdigit() or int(host[1:]) >= len(hosts):
            return None
        host = hosts[int(host[1:])]
    return job_id, host
