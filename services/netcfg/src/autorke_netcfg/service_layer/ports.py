"""What netcfg's handlers are given to work with: the unit-of-work factory (a fresh
:class:`~autorke_netcfg.service_layer.unit_of_work.UnitOfWork` per transaction), the
cluster API clients, the VCalico client, the per-cluster pool lock (on the database:
``adapters.pool_locks``), the orchestrator's change API (pool writes are changes) and the
few settings the flow needs. Built once in
``bootstrap``; every handler takes its command and these ports, so a test can hand it
fakes (``tests/unit/netcfg/fakes.py``)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from autorke_common.catalogue import Message
from autorke_common.envelope import Envelope
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.vcalico import Submission
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork

SOURCE = "netcfg"


class ClusterClients(Protocol):
    """One API client per cluster (``adapters.kube.KubeClusters``)."""

    def for_cluster(self, name: str, kubeconfig_sealed: str | None) -> ClusterApi: ...
    def close(self) -> None: ...


class TicketSystem(Protocol):
    """VCalico, the network team's ticket system (``adapters.vcalico.VCalicoClient``)."""

    def submit(self, body: dict[str, Any], idempotency_key: str) -> Submission: ...


class ChangeRequester(Protocol):
    """The orchestrator's change API, as the caller (``autorke_common.change_requests``)."""

    def create(self, *, type: str, cluster: str | None, params: dict[str, Any],
               targets: list[str] | None = None, authorization: str | None = None) -> dict[str, Any]: ...


class LocalPoolLocks:
    """A lock per cluster in this process: for tests with fakes only; the service holds
    ``adapters.pool_locks.PoolLocks`` (on the database)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, cluster: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(cluster, threading.Lock())
        with lock:
            yield


@dataclass
class Ports:
    uow: Callable[[], UnitOfWork]
    kube: ClusterClients
    vcalico: TicketSystem | None
    callback_secret: Callable[[], str | None]
    signature_tolerance_s: float = 300.0
    callback_timeout_s: float = 3600.0
    pool_write_grace_s: float = 600.0   # a pool write in flight longer: its writer died
    #: the orchestrator's change API (None: pool changes cannot be requested here)
    changes: ChangeRequester | None = None
    #: ``pool_lock(cluster)``: held around every pool write to the cluster, so that two
    #: writers (replicas too) never both pass the overlap checks and then both write
    pool_lock: Callable[[str], AbstractContextManager[None]] = field(
        default_factory=lambda: LocalPoolLocks().hold)


def emit(uow: UnitOfWork, message: Message, *, aggregate: str, correlation_id: str | None = None,
         actor: str | None = None, causation_id: str | None = None) -> None:
    envelope = Envelope.of(message, source=SOURCE, correlation_id=correlation_id or aggregate,
                           actor=actor, causation_id=causation_id)
    uow.emit(envelope, aggregate=aggregate)
