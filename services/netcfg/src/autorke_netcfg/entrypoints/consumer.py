"""Bus subscriptions: inventory's cluster events (the facts netcfg checks pools and plans
against) and the ``network.flatten`` commands the orchestrator — and netcfg itself, after
each human step — send. Handlers run in a worker thread (the Kubernetes client and the
database are blocking); each command has its own durable consumer on the work queue."""
from __future__ import annotations

import asyncio
import logging

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.catalogue.netcfg import (
    ApplyTicket,
    ApproveTicket,
    ConfirmTicket,
    PlanTicket,
    SubmitTicket,
)
from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError, Problem

from autorke_netcfg.service_layer import apply, clusters, submission, tickets
from autorke_netcfg.service_layer.ports import Ports

log = logging.getLogger(__name__)


def consumers(ports: Ports, submit_ack_wait_s: float) -> list[ConsumerSpec]:
    async def on_cluster(env: Envelope, _: Delivery) -> None:
        await asyncio.to_thread(clusters.record_cluster_facts, ports, env)

    async def on_plan(env: Envelope, _: Delivery) -> None:
        msg = env.parsed()
        assert isinstance(msg, PlanTicket)
        await _refusable(tickets.plan, ports, cluster=msg.cluster, nodes=msg.nodes,
                         route_reflectors=msg.route_reflectors, as_numbers=msg.as_numbers,
                         pool_name=msg.pool_name, pool_spec=msg.pool.model_dump(exclude_none=True),
                         requested_by=msg.requested_by, comment=msg.comment,
                         ticket_id=msg.ticket_id, correlation_id=env.correlation_id,
                         message_id=env.id)

    async def on_approve(env: Envelope, _: Delivery) -> None:
        msg = env.parsed()
        assert isinstance(msg, ApproveTicket)
        await _refusable(tickets.approve, ports, msg.ticket_id, msg.approved_by, message_id=env.id)

    async def on_confirm(env: Envelope, _: Delivery) -> None:
        msg = env.parsed()
        assert isinstance(msg, ConfirmTicket)
        await _refusable(tickets.confirm, ports, msg.ticket_id, msg.confirmed_by, message_id=env.id)

    async def on_submit(env: Envelope, delivery: Delivery) -> None:
        msg = env.parsed()
        assert isinstance(msg, SubmitTicket)
        await _refusable(submission.submit, ports, msg.ticket_id)

    async def on_apply(env: Envelope, _: Delivery) -> None:
        msg = env.parsed()
        assert isinstance(msg, ApplyTicket)
        await _refusable(apply.apply, ports, msg.ticket_id)

    def command(cls: type, handler, ack_wait_s: float = 60.0) -> ConsumerSpec:
        return ConsumerSpec(durable=f"netcfg-{cls.TYPE.replace('.', '-')}",
                            subject=cls.message_subject(), handler=handler,
                            stream=COMMANDS_STREAM, ack_wait_s=ack_wait_s, max_deliver=5)

    return [
        ConsumerSpec(durable="netcfg-inventory-clusters", subject="autorke.events.inventory.cluster.>",
                     handler=on_cluster, stream=EVENTS_STREAM),
        command(PlanTicket, on_plan),
        command(ApproveTicket, on_approve),
        command(ConfirmTicket, on_confirm),
        command(SubmitTicket, on_submit, submit_ack_wait_s),
        command(ApplyTicket, on_apply, 120.0),
    ]


async def _refusable(fn, *args, **kwargs):
    """A Problem is a refusal, not a fault: retrying cannot change it, so dead-letter it
    (the dead-letter event tells the sender why). 5xx problems (cluster unreachable) retry."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except Problem as problem:
        if problem.status >= 500:
            raise
        raise PermanentError(f"{problem.slug}: {problem.detail or problem.title}") from None
