"""How the clusters component reaches lab machines, and how it gives them back clean.

SSH as the platform does it: paramiko through the rke stand-in's :class:`NodeSession`,
host keys checked against a ``known_hosts`` written from the keys the fleet publishes,
argv commands only. A lab start always begins from machines without cluster components:
a machine keeps its own files across lab restarts, so RKE1 kubelets and RKE2 agents of a
previous lab run would start again at boot (enabled units) against a Kubernetes API that
now has a new CA and token. :func:`leftovers` spots them from the host side (the
machine's overlay upper dirs, no SSH), :func:`wipe` removes them over SSH with the
provisioners' own clean-up (RKE's host cleanup, ``rke2-uninstall.sh``).
"""
from __future__ import annotations

from pathlib import Path

from ..machines.machine import Machine
from ..provisioners.rke import hosts as rke_hosts
from ..provisioners.rke.config import SSHEndpoint
from ..provisioners.rke.ssh import NodeSession

RKE2_UNINSTALL = "/usr/local/bin/rke2-uninstall.sh"
RKE2_UNITS = ("rke2-server", "rke2-agent")


def write_known_hosts(machines: list[Machine], path: Path) -> Path:
    lines = []
    for m in machines:
        host = m.spec.address if m.spec.port == 22 else f"[{m.spec.address}]:{m.spec.port}"
        lines.append(f"{host} {m.host_key}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def open_session(machine: Machine, key: Path, known_hosts: Path) -> NodeSession:
    endpoint = SSHEndpoint(machine.spec.address, machine.spec.port, "root", key)
    return NodeSession(endpoint, known_hosts, None)


def leftovers(machine: Machine) -> list[str]:
    """Cluster components a previous lab run left on ``machine`` (read from the host)."""
    upper = machine.dir / "ov"
    found = []
    enabled = upper / "var.u" / "lib" / "autorke-lab" / "units" / "enabled"
    if enabled.is_dir():
        found += [f"unit {p.name}" for p in enabled.iterdir() if p.is_file()]
    for rel in ("etc.u/kubernetes", "etc.u/rancher", "var.u/lib/rancher", "var.u/lib/etcd"):
        if (upper / rel).is_dir():
            found.append("/" + rel.replace(".u", "", 1))
    containers = upper / "var.u" / "lib" / "docker" / "containers"
    if containers.is_dir() and any(p.is_file() or p.is_dir() for p in containers.iterdir()):
        found.append("docker containers")
    if (upper / "usrlocal.u" / "bin" / "rke2").is_file():
        found.append("rke2")
    return found


def wipe(session: NodeSession) -> None:
    """Remove every cluster component from the machine: RKE1's and RKE2's."""
    if session.run(["test", "-x", RKE2_UNINSTALL], check=False).rc == 0:
        session.run([RKE2_UNINSTALL], check=False)
    session.run(["systemctl", "disable", "--now", *RKE2_UNITS], check=False)
    rke_hosts.clean(session, keep_snapshots=False)
