"""The machines as a lab runtime component: starts the fleet, mounts its control API."""
from __future__ import annotations

from ..component import LabHost
from .api import machines_router
from .faults import clear_all
from .fleet import Fleet, FleetConfig


class MachinesComponent:
    name = "machines"

    def __init__(self) -> None:
        self.fleet: Fleet | None = None

    def start(self, lab: LabHost) -> None:
        c = lab.config
        self.fleet = Fleet(FleetConfig(count=c.machines, seed=c.seed, address_base=c.address_base,
                                       state_dir=c.state_dir, bastion_inner=c.bastion_inner,
                                       isolation=c.isolation))
        self.fleet.start()
        if self.fleet.notice:
            lab.notice(self.fleet.notice)
        lab.app.include_router(machines_router(self.fleet))

    def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()
            self.fleet = None

    def status(self) -> dict:
        return self.fleet.status() if self.fleet else {}

    def clear_faults(self) -> None:
        for m in self.fleet.machines if self.fleet else []:
            clear_all(m)
