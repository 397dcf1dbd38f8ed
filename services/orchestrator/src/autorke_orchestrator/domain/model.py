"""A change (work order) and its steps and targets: the saga's persistent state and the
invariants on it. No I/O: the engine (:mod:`.saga`) decides, the repository stores.

A change is *open* until it is closed: succeeded, cancelled, or failed by a check before
anything was touched. A change whose action failed stays open (status ``failed`` or
``partially_failed``) until the operator retries, continues or cancels it, so its machine
locks are held while its machines are in an unknown state.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autorke_common.catalogue import Message
from autorke_common.envelope import utcnow
from autorke_common.errors import Conflict, Missing

OPEN_STATUSES = ("planned", "running", "awaiting_approval", "partially_failed", "failed",
                 "compensating")
DONE_TARGET = ("succeeded",)


class IllegalTransition(Conflict):
    """A request that the change's current status does not allow (a conflict with the
    state, whatever the caller's roles: :class:`~autorke_common.errors.Forbidden` says
    who may not)."""

    def __init__(self, detail: str, slug: str = "illegal-state-transition") -> None:
        super().__init__(slug, detail)


@dataclass
class Endpoint:
    """How the executor reaches a machine (snapshotted into the plan: the host key the
    change expects is part of what was approved)."""

    host: str
    address: str
    port: int = 22
    host_key: str = ""
    user: str | None = None
    bastion: dict[str, Any] | None = None


@dataclass
class TargetState:
    host: str
    status: str = "pending"  # pending running succeeded failed refused dropped
    attempt: int = 0
    error: str | None = None
    error_class: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    undo_status: str | None = None  # None pending running succeeded failed


@dataclass
class Step:
    id: str
    name: str
    kind: str  # check approval action
    position: int
    status: str = "pending"
    attempt: int = 0
    job_id: str | None = None
    undo_status: str | None = None
    undo_attempt: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    targets: dict[str, TargetState] = field(default_factory=dict)

    def failed_hosts(self) -> list[str]:
        return [h for h, t in self.targets.items() if t.status in ("failed", "refused")]

    def succeeded_hosts(self) -> list[str]:
        return [h for h, t in self.targets.items() if t.status == "succeeded"]


@dataclass
class Approval:
    step_id: str
    decision: str
    by: str
    comment: str
    at: datetime
    automatic: bool = False


@dataclass
class HistoryEntry:
    at: datetime
    actor: str
    action: str
    step_id: str | None
    result: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    id: str
    type: str
    cluster: str | None
    targets: list[str]
    params: dict[str, Any]
    requested_by: str
    policy: str
    steps: list[Step]
    blast_hosts: list[str]
    blast_components: list[str]
    config_diff: str = ""
    warnings: list[str] = field(default_factory=list)
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)  # fixed at plan time
    status: str = "planned"
    closed: bool = False
    cancel_requested: bool = False
    problem: str | None = None
    problem_detail: str | None = None
    waiting_for: str | None = None
    dropped: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    #: the ordinal of the last lifecycle mark made (:func:`.orders.lifecycle_marks`)
    last_mark: int = 0
    version: int = 0
    approvals: list[Approval] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    # transient: what the last operation produced, for the service layer to send
    events: list[tuple[Message, str]] = field(default_factory=list, repr=False)

    # -- reading --------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return not self.closed

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise Missing("not-found", f"change {self.id} has no step {step_id!r}")

    def current_step(self) -> Step | None:
        """The first step not yet done (succeeded or skipped)."""
        for s in self.steps:
            if s.status not in ("succeeded", "skipped"):
                return s
        return None

    def active_targets(self) -> list[str]:
        return [t for t in self.targets if t not in self.dropped]

    # -- recording --------------------------------------------------------------------
    def record(self, actor: str, action: str, result: str, step_id: str | None = None,
               **detail: Any) -> None:
        self.history.append(HistoryEntry(utcnow(), actor, action, step_id, result, detail))
        self.updated_at = utcnow()

    def emit(self, message: Message, actor: str = "system") -> None:
        self.events.append((message, actor))

    def set_status(self, status: str, reason: str, actor: str = "system") -> None:
        from autorke_common.catalogue.orchestrator import ChangeStatusChanged

        if status == self.status:
            return
        old, self.status = self.status, status
        self.record(actor, "status", status, reason=reason, previous=old)
        self.emit(ChangeStatusChanged(change_id=self.id, from_status=old, to_status=status,
                                      reason=reason), actor)

    def close(self, status: str, reason: str, actor: str = "system", problem: str | None = None,
              detail: str | None = None) -> None:
        from autorke_common.catalogue.orchestrator import ChangeFinished

        self.set_status(status, reason, actor)
        self.closed = True
        self.waiting_for = None
        self.problem = problem or self.problem
        self.problem_detail = detail or self.problem_detail
        self.emit(ChangeFinished(change_id=self.id, status=status, problem=self.problem,
                                 detail=self.problem_detail), actor)
