"""IP pool handlers: create, update, enable or disable, delete — each write validated
against what the cluster holds now (DESIGN.md P7, ``domain.pool_rules``) before anything
is written, then written to the cluster with the official client (marked in flight first,
so the drift check does not take the write for drift: ``pool_writes``), recorded, and
announced through the outbox in one transaction. A refused request writes nothing
anywhere. Each handler answers the pool as :func:`views.get_pool` shows it."""
from __future__ import annotations

import dataclasses
from typing import Any

from autorke_common.catalogue.netcfg import (
    IPPoolCreated,
    IPPoolDeleted,
    IPPoolDisabled,
    IPPoolEnabled,
    IPPoolUpdated,
)
from autorke_common.errors import not_found
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.domain import pool_rules
from autorke_netcfg.domain.commands import CreatePool, DeletePool, SetPoolDisabled, UpdatePool
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool
from autorke_netcfg.service_layer import pool_writes, views
from autorke_netcfg.service_layer.cluster_state import (
    KIND,
    PLURAL,
    call,
    cluster_api,
    load_cluster,
    networks,
    read_state,
)
from autorke_netcfg.service_layer.ports import Ports, emit


def _cluster(ports: Ports, name: str) -> tuple[ClusterApi, ClusterNetworks]:
    with ports.uow() as uow:
        row = load_cluster(uow, name)
        return cluster_api(ports, row), networks(row)


def _current(api: ClusterApi, cluster: str, name: str) -> tuple[Pool, list[Pool], list[Block], dict]:
    existing, blocks, raw = read_state(api)
    if name not in raw:
        raise not_found("IP pool", f"{cluster}/{name}")
    return Pool.from_resource(raw[name]), existing, blocks, raw[name]


def _record(ports: Ports, write: pool_writes.Write, pool: Pool | None, event: Any,
            actor: str) -> None:
    with ports.uow() as uow:
        pool_writes.finish(uow, write, pool.spec() if pool else None, actor)
        emit(uow, event, aggregate=f"{write.cluster}/{write.pool}", actor=actor)
        uow.commit()


def create_pool(cmd: CreatePool, ports: Ports) -> dict[str, Any]:
    pool = pool_rules.normalise(cmd.name, cmd.spec)
    with ports.cluster_lock(cmd.cluster):
        api, nets = _cluster(ports, cmd.cluster)
        existing, blocks, _ = read_state(api)
        pool_rules.check_create(pool, nets, existing, blocks)
        with pool_writes.writing(ports, cmd.cluster, cmd.name, cmd.actor) as write:
            call(api.create, PLURAL, KIND, cmd.name, pool.spec())
            _record(ports, write, pool, IPPoolCreated(cluster=cmd.cluster, pool=cmd.name, spec=pool.spec(),
                                                      actor=cmd.actor), cmd.actor)
    return views.get_pool(ports, cmd.cluster, cmd.name)


def update_pool(cmd: UpdatePool, ports: Ports) -> dict[str, Any]:
    wanted = pool_rules.normalise(cmd.name, cmd.spec)
    with ports.cluster_lock(cmd.cluster):
        api, nets = _cluster(ports, cmd.cluster)
        current, existing, blocks, raw = _current(api, cmd.cluster, cmd.name)
        pool_rules.check_update(current, wanted, nets, existing, blocks)
        with pool_writes.writing(ports, cmd.cluster, cmd.name, cmd.actor) as write:
            call(api.replace_spec, PLURAL, raw, wanted.spec())
            _record(ports, write, wanted, IPPoolUpdated(cluster=cmd.cluster, pool=cmd.name, spec=wanted.spec(),
                                                        actor=cmd.actor), cmd.actor)
    return views.get_pool(ports, cmd.cluster, cmd.name)


def set_disabled(cmd: SetPoolDisabled, ports: Ports) -> dict[str, Any]:
    with ports.cluster_lock(cmd.cluster):
        api, _ = _cluster(ports, cmd.cluster)
        current, _, _, raw = _current(api, cmd.cluster, cmd.name)
        event_type = IPPoolDisabled if cmd.disabled else IPPoolEnabled
        with pool_writes.writing(ports, cmd.cluster, cmd.name, cmd.actor) as write:
            if current.disabled != cmd.disabled:
                wanted = dataclasses.replace(current, disabled=cmd.disabled)
                call(api.replace_spec, PLURAL, raw, {**(raw.get("spec") or {}), **wanted.spec()})
            else:
                wanted = current
            _record(ports, write, wanted, event_type(cluster=cmd.cluster, pool=cmd.name, spec=wanted.spec(),
                                                     actor=cmd.actor), cmd.actor)
    return views.get_pool(ports, cmd.cluster, cmd.name)


def delete_pool(cmd: DeletePool, ports: Ports) -> None:
    with ports.cluster_lock(cmd.cluster):
        api, _ = _cluster(ports, cmd.cluster)
        current, _, blocks, _ = _current(api, cmd.cluster, cmd.name)
        pool_rules.check_delete(current, blocks)
        with pool_writes.writing(ports, cmd.cluster, cmd.name, cmd.actor) as write:
            call(api.delete, PLURAL, cmd.name)
            _record(ports, write, None, IPPoolDeleted(cluster=cmd.cluster, pool=cmd.name, spec=current.spec(),
                                                      actor=cmd.actor), cmd.actor)
