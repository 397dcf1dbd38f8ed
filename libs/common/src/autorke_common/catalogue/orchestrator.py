"""The orchestrator's events: every transition of a change (work order), its steps, its
approval gates and its locks, so that dashboards, the console and auditors can follow a
change without reading the orchestrator's tables.

Every event carries ``change_id``; its envelope's ``correlation_id`` is the same id and its
``actor`` the person who caused the transition (``system`` for the engine itself).
Statuses are those of DESIGN.md section 2: a change is ``planned``, ``running``,
``awaiting_approval``, ``succeeded``, ``partially_failed``, ``failed``, ``compensating`` or
``cancelled``. A step is ``pending``, ``running``, ``awaiting_approval``, ``succeeded``,
``partially_failed``, ``failed``, ``skipped``, ``compensating``, ``compensated`` or
``rejected``. Targets are host names (the executor's fence keys).

The commands the orchestrator sends live in the other services' catalogues
(``executor.run``, ``inventory.*``); job ids are ``<change_id>:<step_id>:<attempt>`` and
``<change_id>:<step_id>:undo:<attempt>`` for compensations.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from autorke_common.catalogue import Event

CHANGE_STATUSES = ("planned", "running", "awaiting_approval", "succeeded", "partially_failed",
                   "failed", "compensating", "cancelled")


class BlastRadiusOut(BaseModel):
    """Every host and component a change may touch, and nothing else (the executor's fence)."""

    model_config = ConfigDict(extra="forbid")
    hosts: list[str]
    components: list[str]


class ChangeCreated(Event):
    """A change was accepted and planned (dry runs emit nothing)."""

    TYPE = "orchestrator.change.created"
    change_id: str
    change_type: str
    cluster: str | None
    targets: list[str]
    params: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    steps: list[str]
    blast_radius: BlastRadiusOut
    warnings: list[str] = Field(default_factory=list)


class ChangeStatusChanged(Event):
    """The change moved from one status to another; ``reason`` says why in words."""

    TYPE = "orchestrator.change.status_changed"
    change_id: str
    from_status: str
    to_status: str
    reason: str = ""


class ApprovalRequested(Event):
    """The change waits for a human: exactly which step, which role may decide, who may
    not (the requester), and what the step after the gate will touch."""

    TYPE = "orchestrator.change.awaiting_approval"
    change_id: str
    step_id: str
    step_name: str
    required_role: str
    requester: str
    next_action: str | None
    hosts: list[str]
    waiting_for: str


class ApprovalRecorded(Event):
    """A decision on an approval gate: who, when (the envelope time), which and why."""

    TYPE = "orchestrator.change.approval_recorded"
    change_id: str
    step_id: str
    decision: str
    by: str
    comment: str = ""
    automatic: bool = False


class StepStarted(Event):
    """A step began (an action's or a remote check's job was sent, or a local check ran)."""

    TYPE = "orchestrator.change.step_started"
    change_id: str
    step_id: str
    kind: str
    attempt: int
    job_id: str | None = None
    hosts: list[str] = Field(default_factory=list)


class StepSucceeded(Event):
    """Every target of the step succeeded (or the local check passed)."""

    TYPE = "orchestrator.change.step_succeeded"
    change_id: str
    step_id: str
    attempt: int
    hosts: list[str] = Field(default_factory=list)


class StepFailed(Event):
    """Some or all targets of the step failed; ``targets`` maps host to status and
    ``errors`` host to the error. The operator decides: continue, retry or cancel."""

    TYPE = "orchestrator.change.step_failed"
    change_id: str
    step_id: str
    attempt: int
    status: str
    targets: dict[str, str]
    errors: dict[str, str] = Field(default_factory=dict)
    problem: str | None = None


class StepSkipped(Event):
    """The step had nothing to do (e.g. init when every target is already initialised)."""

    TYPE = "orchestrator.change.step_skipped"
    change_id: str
    step_id: str
    reason: str


class StepCompensated(Event):
    """A step's compensation ran (``ok`` False when it failed: the change stays open)."""

    TYPE = "orchestrator.change.step_compensated"
    change_id: str
    step_id: str
    ok: bool
    hosts: list[str] = Field(default_factory=list)
    job_id: str | None = None


class ChangeFinished(Event):
    """The change ended: ``succeeded``, ``failed`` (``problem`` is the slug when a check
    refused it before anything was touched) or ``cancelled``."""

    TYPE = "orchestrator.change.finished"
    change_id: str
    status: str
    problem: str | None = None
    detail: str | None = None


class LockRecovered(Event):
    """A lock left by a change that is no longer open was taken back."""

    TYPE = "orchestrator.lock.recovered"
    change_id: str
    lock: str
    held_by: str
