"""Bus subscriptions: inventory's cluster events (the facts netcfg checks pools and plans
against), the orchestrator's finished changes (an ``ippool.*`` change's pool is then no
longer pending), the orchestrator's ``ippool.*`` steps (check, apply), the ticket
commands the orchestrator sends as steps of a change (plan, approve, confirm, revert) and
the ones netcfg itself sends after each human step (submit, apply), each to the handler
``bootstrap`` registers for its type. What only the orchestrator sends is obeyed only
with its signature (C2: :data:`SIGNED_TICKET_COMMANDS`); the REST API calls the handlers
directly and is not concerned. Handlers
are plain functions the bus runs in a worker thread (the Kubernetes client and the
database are blocking); each command has its own durable consumer on the work queue. A
refusal (a domain error, a problem below 500) is dead-lettered with its slug by the bus;
a cluster that cannot be reached (503) is retried."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from autorke_common.bus import COMMANDS_STREAM, EVENTS_STREAM, ConsumerSpec, Delivery
from autorke_common.catalogue import Command
from autorke_common.catalogue.netcfg import ApproveTicket, ConfirmTicket, PlanTicket, RevertTicket
from autorke_common.catalogue.orchestrator import ChangeFinished
from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError
from autorke_netcfg.service_layer import clusters, pools
from autorke_netcfg.service_layer.ports import Ports

#: a command handler: ``(command, ports, envelope)``, the envelope that carried it
CommandHandler = Callable[[Any, Ports, Envelope], object]
#: commands obeyed only with the orchestrator's signature: every ``ippool.*`` step, and the
#: ticket commands that on the bus come from the orchestrator alone (``submit`` and ``apply``
#: are netcfg's own follow-ups of a human step, published by netcfg itself, unsigned)
SIGNED_PREFIX = "netcfg.ippool."
SIGNED_TICKET_COMMANDS = frozenset(c.TYPE for c in (PlanTicket, ApproveTicket, ConfirmTicket, RevertTicket))


def must_be_signed(message_type: str) -> bool:
    return message_type.startswith(SIGNED_PREFIX) or message_type in SIGNED_TICKET_COMMANDS


class Verifier(Protocol):
    """The trusted signers (``autorke_common.signing.Verifier``, scoped to the orchestrator)."""

    def verify(self, envelope: Envelope) -> str: ...


def consumers(ports: Ports, handlers: Mapping[type[Command], CommandHandler],
              ack_wait_s: Mapping[type[Command], float], verifier: Verifier) -> list[ConsumerSpec]:
    """One consumer for inventory's cluster events and one per command in ``handlers``
    (``ack_wait_s``: how long a command's handler may take, 60 s unless given)."""
    def on_cluster(env: Envelope, _: Delivery) -> None:
        clusters.record_cluster_facts(env, ports)

    def on_change_finished(env: Envelope, _: Delivery) -> None:
        if env.type == ChangeFinished.TYPE:
            pools.change_closed(ports, env.parsed().change_id)

    def on_command(env: Envelope, _: Delivery) -> None:
        if must_be_signed(env.type):
            verifier.verify(env)  # refused (permanent: dead-lettered) before anything is read
        msg = env.parsed()
        handler = handlers.get(type(msg))
        if handler is None:   # not the command this subject carries: it never will be
            raise PermanentError(f"no netcfg handler for {env.type} on a command subject")
        handler(msg, ports, env)

    return [
        ConsumerSpec(durable="netcfg-inventory-clusters", subject="autorke.events.inventory.cluster.>",
                     handler=on_cluster, stream=EVENTS_STREAM, run_in_thread=True),
        ConsumerSpec(durable="netcfg-orchestrator-changes", subject=ChangeFinished.message_subject(),
                     handler=on_change_finished, stream=EVENTS_STREAM, run_in_thread=True),
        *(ConsumerSpec(durable=f"netcfg-{cls.TYPE.replace('.', '-')}", subject=cls.message_subject(),
                       handler=on_command, stream=COMMANDS_STREAM, ack_wait_s=ack_wait_s.get(cls, 60.0),
                       max_deliver=5, run_in_thread=True)
          for cls in handlers),
    ]
