"""The read model of machines and clusters the orchestrator keeps from the inventory's
events (``uow.directory``; :mod:`~autorke_orchestrator.service_layer.projection` writes
it): what flows check (membership, roles, state) and how the executor reaches a machine
(its SSH endpoint, snapshotted into each plan). Machines are named by host name everywhere
in a change; a request may name them by inventory id too.

What a step loads does not grow with the cluster: a change's own machines by host name
(unique index), and the cluster's members (host name and roles only, through the index on
``cluster``) only when a flow reads them (:class:`Members` is lazy)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from autorke_common.envelope import utcnow
from autorke_orchestrator.adapters.orm import ClusterViewRow, MachineViewRow
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Endpoint
from autorke_orchestrator.domain.node_specs import Document


def _view(r: MachineViewRow) -> MachineView:
    return MachineView(r.id, r.hostname, r.cluster, list(r.roles or []), r.state, dict(r.labels or {}),
                       list(r.taints or []), list(r.k8s_components or []), dict(r.facts or {}))


def _endpoint(hostname: str, ssh: dict[str, Any], ip: str | None,
              bastions: dict[str, dict[str, Any]]) -> Endpoint | None:
    address = ssh.get("address") or ip
    if not address or not ssh.get("host_key"):
        return None  # host keys are verified, never learnt: no key, no endpoint
    bastion = ssh.get("bastion")
    if isinstance(bastion, str):
        bastion = bastions.get(bastion)
        if bastion is None:
            return None  # a bastion whose host key we do not know: unreachable, not direct
    return Endpoint(hostname, address, int(ssh.get("port") or 22), ssh["host_key"], ssh.get("user"),
                    dict(bastion) if bastion else None)


class Members(Mapping[str, list[str]]):
    """A cluster's members (host name -> roles), read from the database on first use."""

    def __init__(self, session: Session, cluster: str) -> None:
        self._session, self._cluster = session, cluster
        self._nodes: dict[str, list[str]] | None = None

    def _load(self) -> dict[str, list[str]]:
        if self._nodes is None:
            rows = self._session.execute(select(MachineViewRow.hostname, MachineViewRow.roles)
                                         .where(MachineViewRow.cluster == self._cluster))
            self._nodes = {h: list(roles or []) for h, roles in rows}
        return self._nodes

    def __getitem__(self, host: str) -> list[str]:
        return self._load()[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    @property
    def loaded(self) -> bool:
        return self._nodes is not None


class Directory:
    """The machines and clusters of one unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def resolve(self, names: list[str]) -> tuple[dict[str, str], list[str]]:
        """({requested name: hostname}, [unknown names])."""
        rows = self.session.execute(select(MachineViewRow).where(
            or_(MachineViewRow.hostname.in_(names), MachineViewRow.id.in_(names)))).scalars().all()
        found: dict[str, str] = {}
        for r in rows:
            found[r.hostname] = r.hostname
            found[r.id] = r.hostname
        return {n: found[n] for n in names if n in found}, [n for n in names if n not in found]

    def machines(self, hostnames: list[str]) -> dict[str, MachineView]:
        rows = self.session.execute(select(MachineViewRow).where(MachineViewRow.hostname.in_(hostnames))).scalars()
        return {r.hostname: _view(r) for r in rows}

    def endpoints(self, hostnames: list[str]) -> dict[str, Endpoint]:
        """How the executor reaches each machine, from the SSH data of the inventory's events.
        A bastion named by host name alone is looked up as a machine of the read model."""
        rows = list(self.session.execute(select(MachineViewRow).where(
            MachineViewRow.hostname.in_(hostnames))).scalars())
        named = {b for r in rows if isinstance(b := (r.ssh or {}).get("bastion"), str)}
        bastions: dict[str, dict[str, Any]] = {}
        if named:
            for b in self.session.execute(select(MachineViewRow).where(
                    or_(MachineViewRow.hostname.in_(named), MachineViewRow.id.in_(named)))).scalars():
                e = _endpoint(b.hostname, dict(b.ssh or {}), b.ip, {})
                if e is not None:
                    entry = {"host": b.hostname, "address": e.address, "port": e.port, "user": e.user,
                             "host_key": e.host_key}
                    bastions[b.hostname] = bastions[b.id] = entry
        out: dict[str, Endpoint] = {}
        for r in rows:
            e = _endpoint(r.hostname, dict(r.ssh or {}), r.ip, bastions)
            if e is not None:
                out[r.hostname] = e
        return out

    def cluster(self, name: str | None) -> ClusterView | None:
        if not name:
            return None
        row = self.session.get(ClusterViewRow, name)
        if row is None:
            return None
        configs = {kind: v["sealed"] for kind, v in (row.configs_sealed or {}).items() if v.get("sealed")}
        return ClusterView(row.name, row.provider, row.api_endpoint, row.kubeconfig_sealed, row.join_token_sealed,
                           Members(self.session, name), row.join_address, configs)

    def keep_config(self, name: str, kind: str, version: int, sealed: str | None) -> None:
        """Remember the newest version of a cluster's config (an older one arriving late is ignored)."""
        row = self.session.get(ClusterViewRow, name)
        if row is None or not sealed:
            return
        configs = dict(row.configs_sealed or {})
        if int(configs.get(kind, {}).get("version", 0)) <= version:
            configs[kind] = {"version": version, "sealed": sealed}
            row.configs_sealed = configs
            row.updated_at = utcnow()

    def document(self, cluster: str, kind: str, name: str) -> Document | None:
        """The latest version of a cluster's node profile or label mapping (None: never stored)."""
        row = self.session.get(ClusterViewRow, cluster)
        found = (row.documents or {}).get(f"{kind}/{name}") if row is not None else None
        return Document(name, int(found["version"]), dict(found["spec"])) if found else None

    def keep_document(self, cluster: str, kind: str, name: str, version: int, spec: dict[str, Any]) -> None:
        """Remember the newest version of a profile or mapping (an older one arriving late is ignored)."""
        row = self.session.get(ClusterViewRow, cluster)
        if row is None:
            return
        documents = dict(row.documents or {})
        key = f"{kind}/{name}"
        if int(documents.get(key, {}).get("version", 0)) < version:
            documents[key] = {"version": version, "spec": spec}
            row.documents = documents
            row.updated_at = utcnow()

    def upsert_machine(self, machine_id: str, hostname: str | None = None, **fields: Any) -> MachineViewRow:
        if hostname:
            # The newest inventory event owns a hostname: a machine re-added under a new id (or
            # events replayed from an older inventory) must not wedge the projection on the
            # unique hostname index. The stale row is only this read model's copy.
            stale = self.session.execute(select(MachineViewRow).where(
                MachineViewRow.hostname == hostname, MachineViewRow.id != machine_id)).scalars().all()
            for other in stale:
                self.session.delete(other)
            if stale:
                self.session.flush()
        row = self.session.get(MachineViewRow, machine_id)
        if row is None:
            row = MachineViewRow(id=machine_id, hostname=hostname or machine_id, updated_at=utcnow())
            self.session.add(row)
        elif hostname:
            row.hostname = hostname
        for k, v in fields.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        return row

    def expect_state(self, hostnames: list[str], state: str) -> None:
        """The lifecycle state a flow of ours has just sent the inventory for these machines:
        known here from the moment the mark is sent, so the next step or change decides
        with it (not with the state before, while the inventory's event is on its way)."""
        for row in self.session.execute(select(MachineViewRow).where(
                MachineViewRow.hostname.in_(hostnames))).scalars():
            row.state, row.updated_at = state, utcnow()

    def upsert_cluster(self, name: str, **fields: Any) -> ClusterViewRow:
        row = self.session.get(ClusterViewRow, name)
        if row is None:
            row = ClusterViewRow(name=name, provider=fields.pop("provider", "rke2"), updated_at=utcnow())
            self.session.add(row)
        for k, v in fields.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        return row
