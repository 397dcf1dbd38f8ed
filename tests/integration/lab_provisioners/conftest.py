"""A small fleet of real lab machines (sshd in their own namespaces, on a leased loopback
range) and a private lab cluster API, for the provisioner stand-ins to work on."""
from __future__ import annotations

from pathlib import Path

import pytest

from autorke_lab.machines.addresses import lease_free_range
from autorke_lab.machines.fleet import Fleet, FleetConfig


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    lease = lease_free_range()
    fleet = Fleet(FleetConfig(count=4, address_base=lease.base,
                              state_dir=tmp_path_factory.mktemp("lab") / "lab"))
    try:
        fleet.start()
        yield fleet
    finally:
        fleet.stop()
        lease.release()


@pytest.fixture(scope="module")
def known_hosts(fleet, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ssh") / "known_hosts"
    lines = []
    for m in fleet.machines:
        host = m.spec.address if m.spec.port == 22 else f"[{m.spec.address}]:{m.spec.port}"
        lines.append(f"{host} {m.host_key}")
    path.write_text("\n".join(lines) + "\n")
    return path
