"""What netcfg's handlers are given to work with: the unit-of-work factory (a fresh
:class:`~autorke_netcfg.service_layer.unit_of_work.UnitOfWork` per transaction), the
cluster API clients, the VCalico client and the few settings the flow needs. Built once in
``bootstrap``; every handler takes its command and these ports, so a test can hand it
fakes (``tests/unit/netcfg/fakes.py``)."""
from __future__ import annotations

import threading
from collections.abc import Callable
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


@dataclass
class Ports:
    uow: Callable[[], UnitOfWork]
    kube: ClusterClients
    vcalico: TicketSystem | None
    callback_secret: Callable[[], str | None]
    signature_tolerance_s: float = 300.0
    callback_timeout_s: float = 3600.0
    pool_write_grace_s: float = 600.0   # a pool write in flight longer: its writer died
    _cluster_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    def cluster_lock(self, cluster: str) -> threading.Lock:
        """Serialises pool writes to one cluster within this process, so two requests
        cannot both pass the overlap checks and then both write."""
        with self._locks_guard:
            return self._cluster_locks.setdefault(cluster, threading.Lock())


def emit(uow: UnitOfWork, message: Message, *, aggregate: str, correlation_id: str | None = None,
         actor: str | None = None, causation_id: str | None = None) -> None:
    envelope = Envelope.of(message, source=SOURCE, correlation_id=correlation_id or aggregate,
                           actor=actor, causation_id=causation_id)
    uow.emit(envelope, aggregate=aggregate)
