"""What a cluster holds now, read through its own API: the facts netcfg keeps about it
(networks, AS, kubeconfig), its pools, IPAM blocks and raw pool objects. The cluster API's
failures become the problems a caller sees: ``cluster-conflict`` (409: it changed
meanwhile), ``cluster-error`` (502), ``cluster-unreachable`` (503, retried on the bus) and
``unsafe-kubeconfig`` (409: the stored kubeconfig is not on the allow-list; not retried)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from autorke_common.errors import PermanentError, Problem, not_found
from autorke_netcfg.adapters.kube import (
    ClusterApi,
    ClusterConflict,
    ClusterRefused,
    ClusterUnreachable,
    UnsafeKubeconfig,
)
from autorke_netcfg.adapters.orm import ClusterRow
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool
from autorke_netcfg.service_layer.ports import Ports
from autorke_netcfg.service_layer.unit_of_work import UnitOfWork

PLURAL, KIND = "ippools", "IPPool"
R = TypeVar("R")


def load_cluster(uow: UnitOfWork, name: str) -> ClusterRow:
    row = uow.clusters.get(name)
    if row is None:
        raise not_found("cluster", name)
    return row


def networks(row: ClusterRow) -> ClusterNetworks:
    return ClusterNetworks(row.name, tuple(row.host_networks or ()), row.service_cidr, row.pod_cidr)


def cluster_api(ports: Ports, row: ClusterRow) -> ClusterApi:
    try:
        return ports.kube.for_cluster(row.name, row.kubeconfig_sealed)
    except UnsafeKubeconfig as exc:
        raise Problem("unsafe-kubeconfig", "Unsafe kubeconfig", 409, str(exc), cluster=row.name) from None
    except (ClusterUnreachable, PermanentError, ValueError) as exc:
        raise Problem("cluster-unreachable", "Cluster unreachable", 503, str(exc)) from None


def call(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(*args, **kwargs)`` against the cluster, its failures as problems."""
    try:
        return fn(*args, **kwargs)
    except ClusterConflict as exc:
        raise Problem("cluster-conflict", "Cluster changed meanwhile", 409,
                      f"the cluster refused the write ({exc.reason}); read and try again") from None
    except ClusterRefused as exc:
        raise Problem("cluster-error", "Cluster API error", 502,
                      f"the cluster's API answered {exc.status} {exc.reason}") from None
    except ClusterUnreachable as exc:
        raise Problem("cluster-unreachable", "Cluster unreachable", 503, str(exc)) from None


def live_networks(api: ClusterApi, facts: ClusterNetworks) -> ClusterNetworks:
    """The cluster's facts with every node's address as the cluster reports it now."""
    return facts.with_nodes(call(api.nodes))


def read_state(api: ClusterApi) -> tuple[list[Pool], list[Block], dict[str, dict]]:
    """The cluster's pools, IPAM blocks, and raw pool objects by name."""
    raw = {o["metadata"]["name"]: o for o in call(api.list, PLURAL)}
    pools = [Pool.from_resource(o) for o in raw.values()]
    blocks = [Block.from_resource(o) for o in call(api.list, "ipamblocks")]
    return pools, blocks, raw
