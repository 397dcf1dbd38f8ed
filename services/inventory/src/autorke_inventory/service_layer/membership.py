"""Placing machines in clusters and moving them through their lifecycle — the write side
of P1. Every function runs inside the caller's unit of work and emits its events there.

The code checks membership first for a clear answer, but the guarantee is the primary key
of ``memberships``: when two placements race past the check, the database lets one commit
and the other fails (``uow.memberships.place`` answers who won), which is answered the same
way (409 ``machine-in-other-cluster``)."""
from __future__ import annotations

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Conflict, TemporaryError
from autorke_inventory.adapters.orm import MachineRow, MembershipRow
from autorke_inventory.domain.lifecycle import check_transition
from autorke_inventory.domain.roles import check_labels, check_roles, check_taints
from autorke_inventory.service_layer import lookups
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

SOURCE = "inventory"


def other_cluster(machine: MachineRow, current: str, wanted: str) -> Conflict:
    return Conflict("machine-in-other-cluster",
                    f"machine {machine.hostname} ({machine.id}) is a member of cluster "
                    f"{current!r}; it cannot be placed in {wanted!r} (DESIGN P1)",
                    machine=machine.id, cluster=current, requested_cluster=wanted)


def _event(uow: UnitOfWork, event: msg.Event, aggregate: str, *, change_id: str | None,
           command_id: str | None, actor: str) -> None:
    uow.emit(Envelope.of(event, source=SOURCE, correlation_id=change_id, causation_id=command_id,
                         actor=actor), aggregate=aggregate)


def assign(uow: UnitOfWork, machine: MachineRow, cluster: str, roles: list[str],
           labels: dict[str, str], taints: list[dict], *, change_id: str | None,
           command_id: str | None, actor: str) -> MembershipRow:
    lookups.cluster(uow, cluster)
    roles = check_roles(list(roles))
    labels = check_labels(dict(labels))
    taints = check_taints(list(taints))
    if machine.state in ("retired", "faulty"):
        raise Conflict("machine-unavailable", f"machine {machine.hostname} is {machine.state}",
                       machine=machine.id, state=machine.state)
    current = uow.memberships.get(machine.id)
    if current is not None and current.cluster != cluster:
        raise other_cluster(machine, current.cluster, cluster)
    if current is None:
        current = MembershipRow(machine_id=machine.id, cluster=cluster, roles=",".join(roles),
                                labels=labels, taints=taints, change_id=change_id, since=utcnow())
        winner = uow.memberships.place(current)
        if winner is not None:  # placed by a concurrent transaction since the check above
            raise other_cluster(machine, winner, cluster)
    else:
        current.roles, current.labels, current.taints = ",".join(roles), labels, taints
        current.change_id = change_id
    _event(uow, msg.MembershipChanged(action="assigned", machine=machine.id,
                                      hostname=machine.hostname, cluster=cluster, roles=roles,
                                      labels=labels, taints=taints, change_id=change_id,
                                      command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)
    return current


def member_of(uow: UnitOfWork, machine: MachineRow, cluster: str) -> MembershipRow:
    current = uow.memberships.get(machine.id)
    if current is None or current.cluster != cluster:
        if current is not None:
            raise other_cluster(machine, current.cluster, cluster)
        raise Conflict("not-a-member", f"machine {machine.hostname} is not a member of {cluster!r}",
                       machine=machine.id, cluster=cluster)
    return current


def release(uow: UnitOfWork, machine: MachineRow, cluster: str, *, change_id: str | None,
            command_id: str | None, actor: str) -> None:
    current = member_of(uow, machine, cluster)
    roles = current.roles.split(",")
    labels, taints = current.labels, current.taints
    uow.memberships.remove(current)
    _event(uow, msg.MembershipChanged(action="released", machine=machine.id,
                                      hostname=machine.hostname, cluster=cluster, roles=roles,
                                      labels=labels, taints=taints, change_id=change_id,
                                      command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)


def update_node(uow: UnitOfWork, machine: MachineRow, cluster: str,
                labels: dict[str, str] | None, taints: list[dict] | None, *,
                change_id: str | None, command_id: str | None, actor: str) -> MembershipRow:
    current = member_of(uow, machine, cluster)
    if labels is not None:
        current.labels = check_labels(labels)
    if taints is not None:
        current.taints = check_taints(taints)
    current.change_id = change_id
    _event(uow, msg.MembershipChanged(action="updated", machine=machine.id,
                                      hostname=machine.hostname, cluster=cluster,
                                      roles=current.roles.split(","), labels=current.labels,
                                      taints=current.taints, change_id=change_id,
                                      command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)
    return current


def transition(uow: UnitOfWork, machine: MachineRow, target: str, *, expected: str | None,
               change_id: str | None, command_id: str | None, actor: str, ordinal: int | None = None) -> bool:
    """Move the machine (False: a stale mark, nothing changed). A change's lifecycle marks
    carry an ``ordinal`` and may be handled in any order (replicas, redeliveries): one older
    than the last applied from that change is stale; a newer one moves the machine along a
    legal path, standing for the marks before it (found by the chaos suite: a node.remove's
    ``removing``, redelivered after its membership was released, could never apply, nor
    could the ``cleaning`` and ``available`` after it, so the machine stayed ``draining``).
    One that the membership does not allow yet (``member`` before the assignment) waits."""
    if ordinal is not None and change_id and machine.mark_change == change_id \
            and machine.mark_ordinal is not None and ordinal <= machine.mark_ordinal:
        return False
    is_member = uow.memberships.get(machine.id) is not None
    try:
        check_transition(machine.id, machine.state, target, is_member=is_member, expected=expected,
                         skipping=ordinal is not None)
    except Conflict as exc:
        if ordinal is None:
            raise
        raise TemporaryError(f"{exc.detail}; an earlier mark (or the membership) of change {change_id} "
                             f"is not handled yet", delay=15.0) from None  # 4 retries: 60 s, past the 30 s ack wait
    if ordinal is not None:
        machine.mark_change, machine.mark_ordinal = change_id, ordinal
    before = machine.state
    machine.state = target
    machine.version += 1
    machine.updated_at = utcnow()
    _event(uow, msg.MachineStateChanged(machine=machine.id, hostname=machine.hostname,
                                        from_state=before, to_state=target, change_id=change_id,
                                        command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)
    return True
