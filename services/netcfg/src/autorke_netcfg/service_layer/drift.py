"""Drift between netcfg's record of each pool and what the cluster holds: a pool changed
behind netcfg's back (kubectl, calicoctl), a recorded pool gone from the cluster, or a
pool netcfg never wrote. Run periodically; each distinct drift is announced once with
``netcfg.ippool.drift_detected`` (the drift is kept on the record, so the same drift is
not announced again, and a pool that drifts back clears it). netcfg's own writes are
never drift: see ``pool_writes`` for how a write in flight is marked."""
from __future__ import annotations

import logging

from autorke_common.catalogue.netcfg import IPPoolDriftDetected
from autorke_common.envelope import utcnow
from autorke_common.errors import Problem
from autorke_netcfg.adapters.orm import ClusterRow, PoolRow
from autorke_netcfg.domain.drift import WriteMark, judge, settled
from autorke_netcfg.service_layer.cluster_state import cluster_api, read_state
from autorke_netcfg.service_layer.ports import Ports, emit

log = logging.getLogger(__name__)


def detect_drift(ports: Ports) -> int:
    """Check every known cluster; the number of drifts newly announced."""
    with ports.uow() as uow:
        clusters = [ClusterRow(name=r.name, kubeconfig_sealed=r.kubeconfig_sealed)
                    for r in uow.clusters.with_kubeconfig()]
    announced = 0
    for row in clusters:
        try:
            announced += detect_cluster_drift(ports, row)
        except Problem as exc:
            log.warning("drift check of cluster %s skipped: %s", row.name, exc.detail)
    return announced


def _marks(ports: Ports, cluster: str) -> dict[str, WriteMark]:
    with ports.uow() as uow:
        return {r.name: _mark(r) for r in uow.pools.of_cluster(cluster)}


def _mark(row: PoolRow | None) -> WriteMark | None:
    return None if row is None else WriteMark(row.write_id, row.write_started_at)


def detect_cluster_drift(ports: Ports, cluster: ClusterRow) -> int:
    """``cluster`` is a detached copy holding the name and the sealed kubeconfig.

    The records are read before and after the cluster's pools are listed, and only pools
    whose records held still across the listing are judged (``domain.drift.settled``): a
    write of netcfg's is marked on its record before it reaches the cluster, so a pool
    netcfg is writing, or wrote while the cluster was listed, waits for the next check."""
    api = cluster_api(ports, cluster)
    before = _marks(ports, cluster.name)
    pools, _, _ = read_state(api)
    actual = {p.name: p.spec() for p in pools}
    announced = 0
    with ports.uow() as uow:
        # locked: a write's mark or record waits for this unit, and a second replica
        # checking meanwhile sees the drift already recorded, not to announce it twice
        records = {r.name: r for r in uow.pools.of_cluster(cluster.name, locked=True)}
        now = utcnow()
        for name in sorted(set(actual) | set(records)):
            record = records.get(name)
            if not settled(before.get(name), _mark(record), now, ports.pool_write_grace_s):
                continue
            if record is None:
                record = PoolRow(cluster=cluster.name, name=name, spec={}, updated_at=now)
            drift = judge(record.spec, actual.get(name))
            if drift is None and not record.spec:   # gone, and never or no longer netcfg's
                if name in records:
                    uow.pools.delete(record)
                continue
            if drift != record.drift:
                record.drift = drift
                uow.pools.add(record)
                if drift is not None:
                    emit(uow, IPPoolDriftDetected(cluster=cluster.name, pool=name, **drift),
                         aggregate=f"{cluster.name}/{name}")
                    announced += 1
        uow.commit()
    return announced
