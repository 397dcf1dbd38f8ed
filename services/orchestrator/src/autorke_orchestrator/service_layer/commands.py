"""What the orchestrator's handlers are asked to do, by whom. The REST routes and the bus
consumers build these; the wire contract with the other services stays in
:mod:`autorke_common.catalogue`."""
from __future__ import annotations

from dataclasses import dataclass

from autorke_orchestrator.domain.planning import ChangeRequest
from autorke_orchestrator.domain.saga import Outcome


@dataclass(frozen=True)
class Actor:
    subject: str
    roles: frozenset[str] = frozenset()

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


@dataclass(frozen=True)
class CreateChange:
    """Plan a change; unless ``dry_run``, store it, lock its machines and start it."""

    request: ChangeRequest
    actor: Actor
    dry_run: bool = False


@dataclass(frozen=True)
class DecideApproval:
    change_id: str
    step_id: str
    decision: str  # "approve" or "reject"
    comment: str
    actor: Actor


@dataclass(frozen=True)
class RetryChange:
    """P10: re-run the failed targets of the failed step (``hosts``: only these of them)."""

    change_id: str
    actor: Actor
    hosts: list[str] | None = None


@dataclass(frozen=True)
class ContinueChange:
    """Go on with the targets that succeeded; the failed ones are dropped."""

    change_id: str
    actor: Actor


@dataclass(frozen=True)
class CancelChange:
    change_id: str
    actor: Actor


@dataclass(frozen=True)
class ForceCancelChange:
    """An admin closes a stuck change now, without compensation (audited with ``reason``)."""

    change_id: str
    actor: Actor
    reason: str


#: A job that stopped (the executor refused it whole, or it failed before its end) stands
#: for every target still waiting on the step but those it reported (``TakeResults.reported``).
EVERY_TARGET = "*"


@dataclass(frozen=True)
class TakeResults:
    """What a job's targets (or an inventory command's host) reported, read from message
    ``message_id`` by ``consumer`` (handled once per message)."""

    consumer: str
    message_id: str
    job_id: str
    outcomes: dict[str, Outcome]
    #: with EVERY_TARGET: the targets the job did report on their own (never settled by it)
    reported: frozenset[str] = frozenset()
