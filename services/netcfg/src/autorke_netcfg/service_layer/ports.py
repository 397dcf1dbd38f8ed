"""What netcfg's handlers are given to work with: the database (unit of work and outbox),
the cluster API clients, the VCalico client and the few settings the flow needs. Built
once in ``bootstrap``; handlers take it as their first argument, so a test can hand them
other ports."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from autorke_common.catalogue import Message
from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError, Problem, not_found
from autorke_common.outbox import Database, UnitOfWork

from autorke_netcfg.adapters.kube import ClusterApi, ClusterUnreachable, KubeClusters
from autorke_netcfg.adapters.orm import ClusterRecord
from autorke_netcfg.adapters.vcalico import VCalicoClient
from autorke_netcfg.domain.pools import ClusterNetworks

SOURCE = "netcfg"


@dataclass
class Ports:
    db: Database
    kube: KubeClusters
    vcalico: VCalicoClient | None
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


def load_cluster(uow: UnitOfWork, name: str) -> ClusterRecord:
    record = uow.session.get(ClusterRecord, name)
    if record is None:
        raise not_found("cluster", name)
    return record


def networks(record: ClusterRecord) -> ClusterNetworks:
    return ClusterNetworks(record.name, tuple(record.host_networks or ()), record.service_cidr,
                           record.pod_cidr)


def cluster_api(ports: Ports, record: ClusterRecord) -> ClusterApi:
    try:
        return ports.kube.for_cluster(record.name, record.kubeconfig_sealed)
    except (ClusterUnreachable, PermanentError, ValueError) as exc:
        raise Problem("cluster-unreachable", "Cluster unreachable", 503, str(exc)) from None
