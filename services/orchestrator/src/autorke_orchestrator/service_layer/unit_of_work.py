"""The ports the orchestrator's handlers work through, as the service layer relies on them:
a unit of work (one transaction: enter, ``commit``, or leave to roll back) with its outbox
(``emit``), its processed-message inbox (``already_processed``) and four repositories.
:class:`~autorke_orchestrator.adapters.unit_of_work.OrchestratorUnitOfWork` is the real one
(on the database); ``tests/unit/orchestrator/fakes.py`` holds an in-memory one."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, Self

from autorke_common.catalogue.orchestrator import LockRecovered
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.model import Change, Endpoint
from autorke_orchestrator.domain.node_specs import Document
from autorke_orchestrator.domain.orders import Order
from autorke_orchestrator.domain.saga import ConfigLocks

if TYPE_CHECKING:
    from autorke_common.rest import Cursor

Recovered = Callable[[LockRecovered], None]


class ChangeHeader(Protocol):
    """What a list of changes shows of each (a stored row or a :class:`Change`)."""

    id: str
    type: str
    status: str
    cluster: str | None
    targets: list[str]
    requested_by: str
    closed: bool
    created_at: datetime


class Changes(Protocol):
    def get(self, change_id: str) -> Change | None: ...

    def save(self, change: Change) -> None:
        """Insert or update; raises :class:`~autorke_orchestrator.adapters.repository.StaleChange`
        when another unit saved the change since this one loaded it."""

    def open_ids(self) -> list[str]: ...

    def page(self, status: str | None, cluster: str | None, limit: int,
             after: Cursor | None) -> Sequence[ChangeHeader]:
        """Up to ``limit + 1`` changes, newest first (ties by id), after the cursor."""


class Jobs(Protocol):
    def record(self, change_id: str, order: Order) -> None: ...

    def hosts(self, job_id: str) -> list[str] | None: ...

    def overdue(self, now: datetime, grace_s: float, limit: int = 200) -> list[str]: ...

    def close(self, job_id: str, now: datetime) -> None: ...


class Locks(Protocol):
    def lock_machines(self, change_id: str, hosts: list[str], recovered: Recovered) -> dict[str, str]:
        """{host: holder} of the hosts another open change holds (then none is locked)."""

    def release_machines(self, change_id: str) -> None: ...

    def machine_holders(self, hosts: list[str]) -> dict[str, str]: ...

    def config(self, recovered: Recovered) -> ConfigLocks: ...

    def release_config(self, cluster: str, change_id: str) -> None: ...


class Directory(Protocol):
    """The read model of the inventory's machines and clusters."""

    def resolve(self, names: list[str]) -> tuple[dict[str, str], list[str]]: ...

    def machines(self, hostnames: list[str]) -> dict[str, MachineView]: ...

    def endpoints(self, hostnames: list[str]) -> dict[str, Endpoint]: ...

    def cluster(self, name: str | None) -> ClusterView | None: ...

    def keep_config(self, name: str, kind: str, version: int, sealed: str | None) -> None: ...

    def document(self, cluster: str, kind: str, name: str) -> Document | None: ...

    def keep_document(self, cluster: str, kind: str, name: str, version: int, spec: dict[str, Any]) -> None: ...

    def upsert_machine(self, machine_id: str, hostname: str | None = None, **fields: Any) -> object: ...

    def expect_state(self, hostnames: list[str], state: str) -> None: ...

    def upsert_cluster(self, name: str, **fields: Any) -> object: ...


class CommandSigner(Protocol):
    """The orchestrator's key (``autorke_common.signing.Signer``): every command it sends is signed."""

    def sign(self, envelope: Envelope) -> Envelope: ...


class UnitOfWork(Protocol):
    changes: Changes
    jobs: Jobs
    locks: Locks
    directory: Directory
    signer: CommandSigner  # handed out with the repositories: the commands written to the outbox are signed

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def emit(self, envelope: Envelope, aggregate: str | None = None) -> None: ...

    def already_processed(self, consumer: str, message_id: str) -> bool: ...

    def claim(self, sealed: str) -> str:
        """Keep a sealed value with this unit; the reference a command carries instead."""
        ...

    def commit(self) -> None: ...
