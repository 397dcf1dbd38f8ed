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
from sqlmodel import select

from autorke_netcfg.adapters.orm import ClusterRecord, PoolRecord
from autorke_netcfg.domain.drift import WriteMark, judge, settled
from autorke_netcfg.service_layer.pools import read_state
from autorke_netcfg.service_layer.ports import Ports, cluster_api, emit

log = logging.getLogger(__name__)


def detect_drift(ports: Ports) -> int:
    """Check every known cluster; the number of drifts newly announced."""
    with ports.db.unit_of_work() as uow:
        clusters = [ClusterRecord(name=r.name, kubeconfig_sealed=r.kubeconfig_sealed)
                    for r in uow.session.execute(select(ClusterRecord)).scalars()
                    if r.kubeconfig_sealed]
    announced = 0
    for record in clusters:
        try:
            announced += detect_cluster_drift(ports, record)
        except Problem as exc:
            log.warning("drift check of cluster %s skipped: %s", record.name, exc.detail)
    return announced


def _marks(ports: Ports, cluster: str) -> dict[str, WriteMark]:
    with ports.db.unit_of_work() as uow:
        return {r.name: _mark(r) for r in uow.session.execute(
            select(PoolRecord).where(PoolRecord.cluster == cluster)).scalars()}


def _mark(record: PoolRecord | None) -> WriteMark | None:
    return None if record is None else WriteMark(record.write_id, record.write_started_at)


def detect_cluster_drift(ports: Ports, cluster: ClusterRecord) -> int:
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
    with ports.db.unit_of_work() as uow:
        # locked: a write's mark or record waits for this unit, and a second replica
        # checking meanwhile sees the drift already recorded, not to announce it twice
        records = {r.name: r for r in uow.session.execute(
            select(PoolRecord).where(PoolRecord.cluster == cluster.name)
            .with_for_update()).scalars()}
        now = utcnow()
        for name in sorted(set(actual) | set(records)):
            record = records.get(name)
            if not settled(before.get(name), _mark(record), now, ports.pool_write_grace_s):
                continue
            if record is None:
                record = PoolRecord(cluster=cluster.name, name=name, spec={}, updated_at=now)
            drift = judge(record.spec, actual.get(name))
            if drift is None and not record.spec:   # gone, and never or no longer netcfg's
                if name in records:
                    uow.session.delete(record)
                continue
            if drift != record.drift:
                record.drift = drift
                uow.session.add(record)
                if drift is not None:
                    emit(uow, IPPoolDriftDetected(cluster=cluster.name, pool=name, **drift),
                         aggregate=f"{cluster.name}/{name}")
                    announced += 1
        uow.commit()
    return announced
