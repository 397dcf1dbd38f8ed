"""Placing machines in clusters and moving them through their lifecycle — the write side
of P1. Every function runs inside the caller's unit of work and emits its events there.

The code checks membership first for a clear answer, but the guarantee is the primary key
of ``memberships``: when two placements race past the check, the database lets one commit
and the other fails, which is answered the same way (409 ``machine-in-other-cluster``)."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from autorke_common.catalogue import inventory as msg
from autorke_common.db import savepoint
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Problem, conflict, not_found
from autorke_common.outbox import UnitOfWork

from autorke_inventory.adapters.orm import ClusterRow, MachineRow, MembershipRow
from autorke_inventory.domain.lifecycle import check_transition
from autorke_inventory.domain.roles import check_labels, check_roles

SOURCE = "inventory"


def other_cluster(machine: MachineRow, current: str, wanted: str) -> Problem:
    return conflict("machine-in-other-cluster",
                    f"machine {machine.hostname} ({machine.id}) is a member of cluster "
                    f"{current!r}; it cannot be placed in {wanted!r} (DESIGN P1)",
                    machine=machine.id, cluster=current, requested_cluster=wanted)


def _event(uow: UnitOfWork, event: msg.Event, aggregate: str, *, change_id: str | None,
           command_id: str | None, actor: str) -> None:
    uow.emit(Envelope.of(event, source=SOURCE, correlation_id=change_id, causation_id=command_id,
                         actor=actor), aggregate=aggregate)


def require_cluster(uow: UnitOfWork, name: str) -> ClusterRow:
    row = uow.session.get(ClusterRow, name)
    if row is None:
        raise not_found("cluster", name)
    return row


def assign(uow: UnitOfWork, machine: MachineRow, cluster: str, roles: list[str],
           labels: dict[str, str], taints: list[dict], *, change_id: str | None,
           command_id: str | None, actor: str) -> MembershipRow:
    require_cluster(uow, cluster)
    roles = check_roles(list(roles))
    labels = check_labels(dict(labels))
    if machine.state in ("retired", "faulty"):
        raise conflict("machine-unavailable", f"machine {machine.hostname} is {machine.state}",
                       machine=machine.id, state=machine.state)
    session = uow.session
    current = session.get(MembershipRow, machine.id)
    if current is not None and current.cluster != cluster:
        raise other_cluster(machine, current.cluster, cluster)
    if current is None:
        current = MembershipRow(machine_id=machine.id, cluster=cluster, roles=",".join(roles),
                                labels=labels, taints=taints, change_id=change_id, since=utcnow())
        try:
            with savepoint(session):  # a savepoint: the transaction survives a refusal
                session.add(current)
        except IntegrityError:
            winner = session.get(MembershipRow, machine.id)
            raise other_cluster(machine, winner.cluster if winner else "another", cluster) from None
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
    current = uow.session.get(MembershipRow, machine.id)
    if current is None or current.cluster != cluster:
        if current is not None:
            raise other_cluster(machine, current.cluster, cluster)
        raise conflict("not-a-member", f"machine {machine.hostname} is not a member of {cluster!r}",
                       machine=machine.id, cluster=cluster)
    return current


def release(uow: UnitOfWork, machine: MachineRow, cluster: str, *, change_id: str | None,
            command_id: str | None, actor: str) -> None:
    current = member_of(uow, machine, cluster)
    roles = current.roles.split(",")
    labels, taints = current.labels, current.taints
    uow.session.delete(current)
    uow.session.flush()
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
        current.taints = taints
    current.change_id = change_id
    uow.session.add(current)
    _event(uow, msg.MembershipChanged(action="updated", machine=machine.id,
                                      hostname=machine.hostname, cluster=cluster,
                                      roles=current.roles.split(","), labels=current.labels,
                                      taints=current.taints, change_id=change_id,
                                      command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)
    return current


def transition(uow: UnitOfWork, machine: MachineRow, target: str, *, expected: str | None,
               change_id: str | None, command_id: str | None, actor: str) -> None:
    is_member = uow.session.get(MembershipRow, machine.id) is not None
    check_transition(machine.id, machine.state, target, is_member=is_member, expected=expected)
    before = machine.state
    machine.state = target
    machine.version += 1
    machine.updated_at = utcnow()
    uow.session.add(machine)
    _event(uow, msg.MachineStateChanged(machine=machine.id, hostname=machine.hostname,
                                        from_state=before, to_state=target, change_id=change_id,
                                        command_id=command_id),
           machine.id, change_id=change_id, command_id=command_id, actor=actor)
