"""The CMDB as a lab runtime component: generates the inventory from the running machines."""
from __future__ import annotations

from ..component import LabHost
from .api import cmdb_router
from .inventory import Inventory
from .netbox import netbox_router


def running_machines(machines_status: dict) -> list[dict]:
    """Machines of the fleet status, with their bastion's SSH details for inner machines."""
    ms = machines_status.get("machines", [])
    by_name = {m["name"]: m for m in ms}
    out = []
    for m in ms:
        b = by_name.get(m.get("bastion") or "")
        out.append({**m, "bastion_ssh": b and {"hostname": b["name"], "address": b["address"],
                                               "port": b["port"], "host_key": b["host_key"]}})
    return out


class CmdbComponent:
    name = "cmdb"

    def __init__(self) -> None:
        self.inventory: Inventory | None = None

    def start(self, lab: LabHost) -> None:
        machines = lab.get("machines").status() if lab.has("machines") else {}
        self.inventory = Inventory.generate(lab.config.seed, lab.config.cmdb_size,
                                            running_machines(machines))
        lab.app.include_router(cmdb_router(self.inventory))
        lab.app.include_router(netbox_router(self.inventory))  # NetBox-shaped view (netbox.py)

    def stop(self) -> None:
        self.inventory = None

    def status(self) -> dict:
        return {"records": len(self.inventory) if self.inventory else 0,
                "revision": self.inventory.revision if self.inventory else 0}
