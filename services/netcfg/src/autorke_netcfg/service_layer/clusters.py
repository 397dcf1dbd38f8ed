"""The clusters netcfg knows, learned from inventory's ``inventory.cluster.registered`` and
``inventory.cluster.updated`` events: name, provider, API endpoint, sealed kubeconfig, host
networks, pod and service CIDRs and BGP AS. Consuming is idempotent (each event id once)
and order-safe (an older event never overwrites newer facts)."""
from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from autorke_common.envelope import Envelope, aware
from autorke_common.errors import PermanentError
from autorke_netcfg.adapters.orm import ClusterRow
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


def record_cluster_facts(envelope: Envelope, ports: Ports) -> bool:
    """Upsert the cluster from one inventory event; False when it had no effect."""
    if envelope.type not in CLUSTER_EVENTS:
        return False
    try:
        facts = ClusterFacts.model_validate(envelope.data)
    except ValueError as exc:
        raise PermanentError(f"cluster event {envelope.id} is malformed: {exc}") from None
    with ports.uow() as uow:
        if uow.already_processed(CONSUMER, envelope.id):
            return False
        row = uow.clusters.get(facts.name)
        if row is not None and aware(row.updated_at) > envelope.time:
            uow.commit()  # an older event: recorded as handled, facts kept
            return False
        row = row or ClusterRow(name=facts.name)
        for key, value in facts.model_dump().items():
            setattr(row, key, value)
        row.source_event = envelope.id
        row.updated_at = envelope.time
        uow.clusters.add(row)
        uow.commit()
    return True
