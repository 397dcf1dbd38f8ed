"""The read model of machines and clusters the orchestrator keeps from the inventory's
events: what flows check (membership, roles, state) and how the executor reaches a
machine (its SSH endpoint, snapshotted into each plan). Machines are named by host name
everywhere in a change; a request may name them by inventory id too."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from autorke_common.envelope import utcnow

from autorke_orchestrator.adapters.orm import ClusterViewRow, MachineViewRow
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Endpoint


def _view(r: MachineViewRow) -> MachineView:
    return MachineView(r.id, r.hostname, r.cluster, list(r.roles or []), r.state, dict(r.labels or {}),
                       list(r.taints or []), list(r.k8s_components or []))


def resolve(session: Session, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """({requested name: hostname}, [unknown names])."""
    rows = session.execute(select(MachineViewRow).where(
        or_(MachineViewRow.hostname.in_(names), MachineViewRow.id.in_(names)))).scalars().all()
    found: dict[str, str] = {}
    for r in rows:
        found[r.hostname] = r.hostname
        found[r.id] = r.hostname
    return {n: found[n] for n in names if n in found}, [n for n in names if n not in found]


def machines(session: Session, hostnames: list[str]) -> dict[str, MachineView]:
    rows = session.execute(select(MachineViewRow).where(MachineViewRow.hostname.in_(hostnames))).scalars()
    return {r.hostname: _view(r) for r in rows}


def endpoints(session: Session, hostnames: list[str]) -> dict[str, Endpoint]:
    out: dict[str, Endpoint] = {}
    for r in session.execute(select(MachineViewRow).where(MachineViewRow.hostname.in_(hostnames))).scalars():
        ssh = dict(r.ssh or {})
        if ssh.get("address") or r.ip:
            out[r.hostname] = Endpoint(r.hostname, ssh.get("address") or r.ip, int(ssh.get("port") or 22),
                                       ssh.get("host_key") or "", ssh.get("user"), ssh.get("bastion"))
    return out


def cluster(session: Session, name: str | None) -> ClusterView | None:
    if not name:
        return None
    row = session.get(ClusterViewRow, name)
    if row is None:
        return None
    nodes = {m.hostname: list(m.roles or []) for m in session.execute(
        select(MachineViewRow).where(MachineViewRow.cluster == name)).scalars()}
    return ClusterView(row.name, row.provider, row.api_endpoint, row.kubeconfig_sealed, row.join_token_sealed, nodes)


def upsert_machine(session: Session, machine_id: str, hostname: str | None = None, **fields: Any) -> MachineViewRow:
    row = session.get(MachineViewRow, machine_id)
    if row is None:
        row = MachineViewRow(id=machine_id, hostname=hostname or machine_id, updated_at=utcnow())
        session.add(row)
    elif hostname:
        row.hostname = hostname
    for k, v in fields.items():
        setattr(row, k, v)
    row.updated_at = utcnow()
    return row


def upsert_cluster(session: Session, name: str, **fields: Any) -> ClusterViewRow:
    row = session.get(ClusterViewRow, name)
    if row is None:
        row = ClusterViewRow(name=name, provider=fields.pop("provider", "rke2"), updated_at=utcnow())
        session.add(row)
    for k, v in fields.items():
        setattr(row, k, v)
    row.updated_at = utcnow()
    return row
