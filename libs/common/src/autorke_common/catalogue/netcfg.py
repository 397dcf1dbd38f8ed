"""The netcfg service's contract on the bus: the commands the orchestrator sends to drive
the ``network.flatten`` change type and the ``ippool.*`` change types (check a pool change,
apply it, undo it), netcfg's answers to those, and the events netcfg emits for every IP
pool change and every transition of a flat-network ticket.

An ``ippool.*`` command carries ``command_id`` (``<job id>|kube-api``, the orchestrator's
order) and netcfg answers it with an event carrying the same id: ``netcfg.ippool.checked``
(the check's verdict: the pool before and after, and the P7 violations, each with its
slug), ``netcfg.ippool.applied`` or ``netcfg.ippool.refused`` (nothing was written).

Ticket life (DESIGN.md P8, P9)::

    planned --approve--> approved --submit--> submitted --callback--> callback_received
        --confirm--> confirmed --apply--> applied
    any open state --> failed (rejected by VCalico, VCalico down, callback timeout,
                               apply failed: nothing is left half-applied)
    failed (submission only) --retry--> approved
    applied --revert--> reverted (the compensation of a node.add's network steps)

Both human steps (``approve`` before anything is sent, ``confirm`` of the callback before
anything is applied) must be taken by an approver who is not the requester. The
envelope's ``correlation_id`` is the orchestrator's change id when there is one, else the
ticket id. Nothing here carries a secret.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from autorke_common.catalogue import Command, Event

TICKET_STATUSES = ("planned", "approved", "submitted", "callback_received", "confirmed",
                   "applied", "failed", "cancelled", "reverted")


class PoolSpec(BaseModel):
    """A Calico IPPool's spec in the CRD's own field names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    cidr: str
    blockSize: int | None = None
    ipipMode: str = "Never"
    vxlanMode: str = "Never"
    natOutgoing: bool = False
    disabled: bool = False
    nodeSelector: str = "all()"
    disableBGPExport: bool = False


# -- commands (orchestrator -> netcfg) -------------------------------------------------------
class PlanTicket(Command):
    """Plan a flat-network ticket (``network.flatten``): the answer is a
    ``netcfg.ticket.planned`` (or ``netcfg.ticket.failed`` when a check refuses it).
    ``ticket_id`` is the idempotency key: the same id planned twice has one effect."""

    TYPE = "netcfg.ticket.plan"
    ticket_id: str
    cluster: str
    nodes: list[str]
    route_reflectors: list[str] = Field(default_factory=list)
    as_numbers: dict[str, int] = Field(default_factory=dict)
    pool_name: str
    pool: PoolSpec
    requested_by: str
    comment: str | None = None
    #: the node label the racks are read from (None: ``rack`` or ``topology.autorke.io/rack``);
    #: a node.add names the key its label mapping gave the rack
    rack_label: str | None = None


class ApproveTicket(Command):
    """The first human step: ``approved_by`` (an approver, not the requester) approves the
    plan; netcfg then submits it to VCalico by itself."""

    TYPE = "netcfg.ticket.approve"
    ticket_id: str
    approved_by: str


class SubmitTicket(Command):
    """Send an approved ticket to VCalico (retried with the ticket's idempotency key)."""

    TYPE = "netcfg.ticket.submit"
    ticket_id: str


class ConfirmTicket(Command):
    """The second human step: ``confirmed_by`` (an approver, not the requester) confirms the
    callback's content; netcfg then applies it by itself."""

    TYPE = "netcfg.ticket.confirm"
    ticket_id: str
    confirmed_by: str


class ApplyTicket(Command):
    """Apply a confirmed ticket to the cluster: pool, node labels, AS numbers, route
    reflectors, BGP peers; verified afterwards, rolled back when any part fails."""

    TYPE = "netcfg.ticket.apply"
    ticket_id: str


class RevertTicket(Command):
    """Undo an applied ticket (the compensation of a node.add's flat-network steps): the
    BGP peers labelled with the ticket, the ticket's pool (when no address of it is in
    use), and the network labels and annotations netcfg wrote on the ticket's nodes. A
    ticket not applied yet is cancelled; one already reverted or cancelled answers again.
    Answered by ``netcfg.ticket.reverted``."""

    TYPE = "netcfg.ticket.revert"
    ticket_id: str
    requested_by: str


class _PoolCommand(Command):
    command_id: str
    change_id: str
    cluster: str
    pool: str
    requested_by: str | None = None


class CheckPool(_PoolCommand):
    """Judge an ``ippool.<operation>`` change against the cluster as it is now (P7, the
    immutable fields, and that the pool is still ``previous``, the spec the change was
    planned against). Writes nothing; answered by ``netcfg.ippool.checked``."""

    TYPE = "netcfg.ippool.check"
    operation: str
    spec: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None


class ApplyPool(_PoolCommand):
    """Make the pool ``after`` (None: delete it), provided it is still ``before`` (the
    check's answer); checked again under the cluster's pool lock, then written to the
    cluster and to netcfg's record. ``operation`` ``restore`` is the compensation: put
    ``after`` (what the change found) back, only if the pool is ``before`` (what the
    change wrote) or already ``after``. Answered by ``netcfg.ippool.applied`` or
    ``netcfg.ippool.refused``; a re-sent command finds its work done and answers again."""

    TYPE = "netcfg.ippool.apply"
    operation: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


# -- ticket events ---------------------------------------------------------------------------
class TicketPlanned(Event):
    """A plan was generated and waits for a human approval. ``plan`` holds ``nodes``
    (``name``, ``ip``, ``rack``), ``racks``, ``route_reflectors``, ``as_numbers``,
    ``cluster_as``, ``pools``."""

    TYPE = "netcfg.ticket.planned"
    ticket_id: str
    cluster: str
    requested_by: str
    plan: dict[str, Any]


class TicketApproved(Event):
    """The plan was approved by a human; submission follows."""

    TYPE = "netcfg.ticket.approved"
    ticket_id: str
    cluster: str
    approved_by: str


class TicketSubmitted(Event):
    """VCalico accepted the ticket (``vcalico_ticket_id``) after ``attempts`` tries."""

    TYPE = "netcfg.ticket.submitted"
    ticket_id: str
    cluster: str
    vcalico_ticket_id: str
    attempts: int


class TicketCallbackReceived(Event):
    """A verified callback arrived (``result``: approved, rejected, failed); an approved
    answer now waits for a human confirmation."""

    TYPE = "netcfg.ticket.callback_received"
    ticket_id: str
    cluster: str
    event_id: str
    result: str
    answer: dict[str, Any] | None = None
    #: whether the answer passed the checks against the plan (P8) and the host networks;
    #: a refused one is followed by ``netcfg.ticket.failed``
    accepted: bool = False


class TicketConfirmed(Event):
    """A human confirmed the callback's content; applying follows."""

    TYPE = "netcfg.ticket.confirmed"
    ticket_id: str
    cluster: str
    confirmed_by: str


class TicketApplied(Event):
    """The pool, labels, AS numbers, route reflectors and peers are in the cluster and were
    verified there."""

    TYPE = "netcfg.ticket.applied"
    ticket_id: str
    cluster: str
    pool: str
    nodes: list[str]
    route_reflectors: list[str]


class TicketFailed(Event):
    """The flow ended without applying anything. ``reason`` is a stable slug:
    ``plan-refused``, ``vcalico-unavailable`` (retryable), ``vcalico-rejected``,
    ``vcalico-failed``, ``callback-timeout``, ``apply-failed``, ``cross-cluster-peering``."""

    TYPE = "netcfg.ticket.failed"
    ticket_id: str
    cluster: str
    reason: str
    detail: str
    retryable: bool = False


class TicketReverted(Event):
    """What an applied ticket wrote is gone from the cluster again, or the open ticket was
    cancelled (``removed`` empty). ``removed`` lists ``peers``, ``pools`` and ``nodes`` (whose
    labels and annotations were put back as before the apply), and when not empty
    ``bgp_configuration`` (restored) and ``kept_pools`` (still in use: left in place)."""

    TYPE = "netcfg.ticket.reverted"
    ticket_id: str
    cluster: str
    removed: dict[str, list[str]] = Field(default_factory=dict)


class TicketRetried(Event):
    """A ticket whose submission failed was put back to ``approved`` for another try."""

    TYPE = "netcfg.ticket.retried"
    ticket_id: str
    cluster: str
    retried_by: str


# -- pool events -----------------------------------------------------------------------------
class _PoolEvent(Event):
    cluster: str
    pool: str
    spec: dict[str, Any]
    actor: str | None = None
    change_id: str | None = None   # the ippool.* change that wrote it (None: a ticket)


class IPPoolCreated(_PoolEvent):
    """A pool was created in the cluster (validated first, DESIGN.md P7)."""

    TYPE = "netcfg.ippool.created"


class IPPoolUpdated(_PoolEvent):
    """A pool's spec was changed in the cluster."""

    TYPE = "netcfg.ippool.updated"


class IPPoolDeleted(_PoolEvent):
    """A pool was deleted from the cluster (it was empty)."""

    TYPE = "netcfg.ippool.deleted"


class IPPoolEnabled(_PoolEvent):
    """A pool was enabled: new pods may get addresses from it."""

    TYPE = "netcfg.ippool.enabled"


class IPPoolDisabled(_PoolEvent):
    """A pool was disabled: no new addresses from it; existing pods keep theirs."""

    TYPE = "netcfg.ippool.disabled"


class PoolViolation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str
    detail: str
    field: str | None = None


class IPPoolChecked(Event):
    """The verdict on an ``ippool.*`` change: the pool before and after it, and the
    violations (empty: it may go ahead)."""

    TYPE = "netcfg.ippool.checked"
    command_id: str
    change_id: str
    cluster: str
    pool: str
    operation: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    violations: list[PoolViolation] = Field(default_factory=list)


class IPPoolApplied(Event):
    """An ``ippool.*`` change's write (or its compensation) is in the cluster and recorded."""

    TYPE = "netcfg.ippool.applied"
    command_id: str
    change_id: str
    cluster: str
    pool: str
    operation: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class IPPoolRefused(Event):
    """netcfg refused an ``ippool.*`` command (``problem``: the slug); nothing was written."""

    TYPE = "netcfg.ippool.refused"
    command_id: str
    change_id: str
    cluster: str
    pool: str
    command: str
    problem: str
    detail: str


class IPPoolDriftDetected(Event):
    """The cluster's pool differs from netcfg's record (``kind``: ``changed``, ``missing``
    (recorded, absent in the cluster) or ``unmanaged`` (in the cluster, never recorded));
    ``differences`` maps a field to ``{"recorded", "actual"}``. Emitted once per distinct
    drift."""

    TYPE = "netcfg.ippool.drift_detected"
    cluster: str
    pool: str
    kind: str
    differences: dict[str, Any] = Field(default_factory=dict)
