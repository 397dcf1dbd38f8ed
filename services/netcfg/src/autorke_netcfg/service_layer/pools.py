"""IP pool handlers: list, get, create, update, delete, enable, disable — each write
validated against what the cluster holds now (DESIGN.md P7) before anything is written,
then written to the cluster with the official client (marked in flight first, so the
drift check does not take the write for drift: ``pool_writes``), recorded, and announced
through the outbox in one transaction. A refused request writes nothing anywhere."""
from __future__ import annotations

import dataclasses
from typing import Any

import urllib3
from autorke_common.catalogue.netcfg import (
    IPPoolCreated,
    IPPoolDeleted,
    IPPoolDisabled,
    IPPoolEnabled,
    IPPoolUpdated,
)
from autorke_common.errors import Problem, not_found
from kubernetes.client.rest import ApiException
from sqlmodel import select

from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.orm import PoolRecord
from autorke_netcfg.domain import pools as rules
from autorke_netcfg.domain.pools import Block, Pool
from autorke_netcfg.service_layer import pool_writes
from autorke_netcfg.service_layer.ports import Ports, cluster_api, emit, load_cluster, networks

PLURAL, KIND = "ippools", "IPPool"


def _cluster(ports: Ports, name: str) -> tuple[ClusterApi, rules.ClusterNetworks]:
    with ports.db.unit_of_work() as uow:
        record = load_cluster(uow, name)
        return cluster_api(ports, record), networks(record)


def read_state(api: ClusterApi) -> tuple[list[Pool], list[Block], dict[str, dict]]:
    """The cluster's pools, IPAM blocks, and raw pool objects by name."""
    raw = {o["metadata"]["name"]: o for o in _call(api.list, PLURAL)}
    pools = [Pool.from_resource(o) for o in raw.values()]
    blocks = [Block.from_resource(o) for o in _call(api.list, "ipamblocks")]
    return pools, blocks, raw


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiException as exc:
        if exc.status == 409:
            raise Problem("cluster-conflict", "Cluster changed meanwhile", 409,
                          f"the cluster refused the write ({exc.reason}); read and try again") from None
        raise Problem("cluster-error", "Cluster API error", 502,
                      f"the cluster's API answered {exc.status} {exc.reason}") from None
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        raise Problem("cluster-unreachable", "Cluster unreachable", 503,
                      f"{type(exc).__name__} talking to the cluster") from None


def _view(cluster: str, pool: Pool | None, record: PoolRecord | None, blocks: list[Block],
          name: str | None = None) -> dict[str, Any]:
    drift: dict[str, Any] | None = None
    managed = record is not None and bool(record.spec)
    if pool is None:
        drift = {"kind": "missing"}
    elif managed:
        diffs = rules.differences(record.spec, pool.spec())
        drift = {"kind": "changed", "differences": diffs} if diffs else None
    elif record is None or not record.spec:
        drift = {"kind": "unmanaged"}
    spec = pool.spec() if pool else (record.spec if record else {})
    usage = rules.blocks_in(pool.network, blocks) if pool else []
    return {"cluster": cluster, "name": pool.name if pool else (name or record.name), **spec,
            "in_cluster": pool is not None, "managed": managed, "drift": drift,
            "blocks": len(usage), "allocated": sum(b.allocated for b in usage)}


def list_pools(ports: Ports, cluster: str) -> list[dict[str, Any]]:
    api, _ = _cluster(ports, cluster)
    pools, blocks, _ = read_state(api)
    with ports.db.unit_of_work() as uow:
        records = {r.name: r for r in uow.session.execute(
            select(PoolRecord).where(PoolRecord.cluster == cluster)).scalars()}
        uow.session.expunge_all()   # read-only: keep the rows usable after the unit ends
    views = [_view(cluster, p, records.get(p.name), blocks) for p in pools]
    seen = {p.name for p in pools}
    views += [_view(cluster, None, r, blocks) for n, r in records.items()
              if n not in seen and r.spec]
    return sorted(views, key=lambda v: v["name"])


def get_pool(ports: Ports, cluster: str, name: str) -> dict[str, Any]:
    api, _ = _cluster(ports, cluster)
    pools, blocks, _ = read_state(api)
    with ports.db.unit_of_work() as uow:
        record = uow.session.get(PoolRecord, (cluster, name))
        uow.session.expunge_all()
    pool = next((p for p in pools if p.name == name), None)
    if pool is None and (record is None or not record.spec):
        raise not_found("IP pool", f"{cluster}/{name}")
    return _view(cluster, pool, record, blocks, name)


def _record(ports: Ports, write: pool_writes.Write, pool: Pool | None, event: Any,
            actor: str) -> None:
    with ports.db.unit_of_work() as uow:
        pool_writes.finish(uow, write, pool.spec() if pool else None, actor)
        emit(uow, event, aggregate=f"{write.cluster}/{write.pool}", actor=actor)
        uow.commit()


def create_pool(ports: Ports, cluster: str, name: str, spec: dict[str, Any],
                actor: str) -> dict[str, Any]:
    pool = rules.normalise(name, spec)
    with ports.cluster_lock(cluster):
        api, nets = _cluster(ports, cluster)
        existing, blocks, _ = read_state(api)
        rules.check_create(pool, nets, existing, blocks)
        with pool_writes.writing(ports, cluster, name, actor) as write:
            _call(api.create, PLURAL, KIND, name, pool.spec())
            _record(ports, write, pool,
                    IPPoolCreated(cluster=cluster, pool=name, spec=pool.spec(), actor=actor),
                    actor)
    return get_pool(ports, cluster, name)


def _current(api: ClusterApi, cluster: str, name: str) -> tuple[Pool, list[Pool], list[Block], dict]:
    existing, blocks, raw = read_state(api)
    if name not in raw:
        raise not_found("IP pool", f"{cluster}/{name}")
    return Pool.from_resource(raw[name]), existing, blocks, raw[name]


def update_pool(ports: Ports, cluster: str, name: str, spec: dict[str, Any],
                actor: str) -> dict[str, Any]:
    wanted = rules.normalise(name, spec)
    with ports.cluster_lock(cluster):
        api, nets = _cluster(ports, cluster)
        current, existing, blocks, raw = _current(api, cluster, name)
        rules.check_update(current, wanted, nets, existing, blocks)
        with pool_writes.writing(ports, cluster, name, actor) as write:
            _call(api.replace_spec, PLURAL, raw, wanted.spec())
            _record(ports, write, wanted,
                    IPPoolUpdated(cluster=cluster, pool=name, spec=wanted.spec(), actor=actor),
                    actor)
    return get_pool(ports, cluster, name)


def set_disabled(ports: Ports, cluster: str, name: str, disabled: bool,
                 actor: str) -> dict[str, Any]:
    with ports.cluster_lock(cluster):
        api, _ = _cluster(ports, cluster)
        current, _, _, raw = _current(api, cluster, name)
        event_type = IPPoolDisabled if disabled else IPPoolEnabled
        with pool_writes.writing(ports, cluster, name, actor) as write:
            if current.disabled != disabled:
                wanted = dataclasses.replace(current, disabled=disabled)
                _call(api.replace_spec, PLURAL, raw, {**(raw.get("spec") or {}), **wanted.spec()})
            else:
                wanted = current
            _record(ports, write, wanted,
                    event_type(cluster=cluster, pool=name, spec=wanted.spec(), actor=actor), actor)
    return get_pool(ports, cluster, name)


def delete_pool(ports: Ports, cluster: str, name: str, actor: str) -> None:
    with ports.cluster_lock(cluster):
        api, _ = _cluster(ports, cluster)
        current, _, blocks, _ = _current(api, cluster, name)
        rules.check_delete(current, blocks)
        with pool_writes.writing(ports, cluster, name, actor) as write:
            _call(api.delete, PLURAL, name)
            _record(ports, write, None,
                    IPPoolDeleted(cluster=cluster, pool=name, spec=current.spec(), actor=actor),
                    actor)
