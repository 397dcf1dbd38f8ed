"""The clusters netcfg knows, learned from inventory's ``inventory.cluster.registered`` and
``inventory.cluster.updated`` events: name, provider, API endpoint, sealed kubeconfig, host
networks, pod and service CIDRs and BGP AS. Consuming is idempotent (each event id once)
and order-safe (an older event never overwrites newer facts)."""
from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError, not_found
from pydantic import BaseModel, ConfigDict, field_validator
from sqlmodel import select

from autorke_netcfg.adapters.orm import ClusterRecord
from autorke_netcfg.service_layer.ports import Ports

CONSUMER = "netcfg.inventory-clusters"
CLUSTER_EVENTS = ("inventory.cluster.registered", "inventory.cluster.updated")


class ClusterFacts(BaseModel):
    """The fields netcfg reads from inventory's cluster events (others are ignored)."""

    model_config = ConfigDict(extra="ignore")
    name: str
    provider: str | None = None
    api_endpoint: str | None = None
    kubeconfig_sealed: str | None = None
    host_networks: list[str] = []
    pod_cidr: str | None = None
    service_cidr: str | None = None
    bgp_as: int | None = None

    @field_validator("host_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> list[str]:
        items = value or []
        return [i.get("cidr") if isinstance(i, dict) else i for i in items]

    @field_validator("host_networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(v, strict=False)) for v in value]


def record_cluster_facts(ports: Ports, envelope: Envelope) -> bool:
    """Upsert the cluster from one inventory event; False when it had no effect."""
    if envelope.type not in CLUSTER_EVENTS:
        return False
    try:
        facts = ClusterFacts.model_validate(envelope.data)
    except ValueError as exc:
        raise PermanentError(f"cluster event {envelope.id} is malformed: {exc}") from None
    with ports.db.unit_of_work() as uow:
        if uow.already_processed(CONSUMER, envelope.id):
            return False
        record = uow.session.get(ClusterRecord, facts.name)
        if record is not None and _aware(record.updated_at) > envelope.time:
            uow.commit()  # an older event: recorded as handled, facts kept
            return False
        record = record or ClusterRecord(name=facts.name)
        for key, value in facts.model_dump().items():
            setattr(record, key, value)
        record.source_event = envelope.id
        record.updated_at = envelope.time
        uow.session.add(record)
        uow.commit()
    return True


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def view(record: ClusterRecord) -> dict[str, Any]:
    """What an admin sees: every fact but the kubeconfig (only whether there is one)."""
    return {"name": record.name, "provider": record.provider, "api_endpoint": record.api_endpoint,
            "host_networks": list(record.host_networks or []), "pod_cidr": record.pod_cidr,
            "service_cidr": record.service_cidr, "bgp_as": record.bgp_as,
            "has_kubeconfig": bool(record.kubeconfig_sealed),
            "updated_at": _aware(record.updated_at).isoformat()}


def list_clusters(ports: Ports) -> list[dict[str, Any]]:
    with ports.db.unit_of_work() as uow:
        return [view(r) for r in uow.session.execute(select(ClusterRecord).order_by(ClusterRecord.name)).scalars()]


def get_cluster(ports: Ports, name: str) -> dict[str, Any]:
    with ports.db.unit_of_work() as uow:
        record = uow.session.get(ClusterRecord, name)
        if record is None:
            raise not_found("cluster", name)
        return view(record)
