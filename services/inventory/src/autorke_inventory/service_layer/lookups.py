"""The one way the service layer names a machine or a cluster that must exist: the row,
or ``not-found`` (404 at the REST edge, a refusal on the bus)."""
from __future__ import annotations

from autorke_common.errors import Missing
from autorke_inventory.adapters.orm import ClusterRow, MachineRow
from autorke_inventory.service_layer.unit_of_work import UnitOfWork


def machine(uow: UnitOfWork, key: str) -> MachineRow:
    """A machine by id or hostname (DESIGN.md: hostname is accepted wherever a machine is named)."""
    row = uow.machines.find(key)
    if row is None:
        raise Missing("not-found", f"machine {key!r} does not exist")
    return row


def cluster(uow: UnitOfWork, name: str) -> ClusterRow:
    row = uow.clusters.get(name)
    if row is None:
        raise Missing("not-found", f"cluster {name!r} does not exist")
    return row
