"""The orchestrator's commands, each answered by exactly one event: its handler's success
event, or ``inventory.command.refused`` with the refusal's slug (nothing else changes
then). The handlers are looked up by command type in the dict ``bootstrap`` wires.

Every inventory command belongs to an open change of the orchestrator: one without a
``change_id`` is refused (``no-open-change``) before it is even parsed, and one that is
not signed by the orchestrator (C2: anyone on the bus could name a change id) is refused
``unsigned-command`` or ``bad-signature`` before it is parsed either."""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import ValidationError

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, DomainError, Invalid, Problem, is_permanent
from autorke_inventory.service_layer.handlers import CONSUMER, DUPLICATE, Delivered
from autorke_inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

CommandHandler = Callable[[msg.Command, UnitOfWork, Delivered], str]
Handlers = Mapping[type[msg.Command], CommandHandler]


class Verifier(Protocol):
    """The trusted signers (``autorke_common.signing.Verifier``, scoped to the orchestrator)."""

    def verify(self, envelope: Envelope) -> str: ...


def handle_command(env: Envelope, uow_factory: UnitOfWorkFactory, handlers: Handlers, verifier: Verifier) -> str:
    """Apply one command envelope; returns the type of the answer event (or ``duplicate``).
    A refusal that could change on redelivery (a bug, ``Broken``) is raised, not answered."""
    try:
        command = _command(env, verifier)
        handler = handlers.get(type(command))
        if handler is None:
            raise Invalid("invalid-request", f"no handler for {env.type}")
        return handler(command, uow_factory(), Delivered(env.id, env.actor or env.source))
    except (DomainError, Problem) as exc:
        if not is_permanent(exc):
            raise
        slug, detail = exc.slug, exc.detail or str(exc)
    except ValidationError as exc:
        slug, detail = "invalid-request", str(exc)[:500]
    return refuse(env, slug, detail, uow_factory())


def _command(env: Envelope, verifier: Verifier) -> msg.Command:
    if env.type.startswith("inventory.") and not (env.data or {}).get("change_id"):
        raise Conflict("no-open-change", "membership, state and configs change only within a change")
    verifier.verify(env)  # the change id is the orchestrator's word only when it signed it
    command = env.parsed()
    if not isinstance(command, msg.Command) or not env.type.startswith("inventory."):
        raise Invalid("invalid-request", f"inventory does not handle {env.type!r}")
    return command


def refuse(env: Envelope, slug: str, detail: str, uow: UnitOfWork) -> str:
    """Answer the command with ``inventory.command.refused`` (once: a refusal delivered
    again is a duplicate)."""
    data = env.data if isinstance(env.data, dict) else {}
    with uow:
        if uow.already_processed(CONSUMER, env.id):
            return DUPLICATE
        uow.emit(Envelope.of(msg.CommandRefused(
            command=env.type, command_id=env.id, change_id=data.get("change_id"), problem=slug,
            detail=detail, machine=data.get("machine"), cluster=data.get("cluster")),
            source="inventory", correlation_id=data.get("change_id") or env.correlation_id,
            causation_id=env.id, actor=env.actor), aggregate=data.get("machine"))
        uow.commit()
    log.info("refused %s %s: %s", env.type, env.id, slug)
    return msg.CommandRefused.TYPE
