"""The observed Kubernetes status of each cluster member's node — the inventory owns "what
the cluster's nodes look like", the executor reads the API (DESIGN.md: it is the only
component that touches clusters). So a refresh is the same ``kube``/``list_nodes`` job the
import through the Kubernetes API sends; its listing is matched to the cluster's members
(by address and hostname, as the import matches) and stored on their membership rows.

A refresh is asked for on an operator's request, after a membership change (so a node
just added shows Ready without waiting a period), after a new ``cluster.rkestate`` (RKE1:
``rke up`` has just registered or removed nodes), after an import, and periodically.
Periodic refreshes have a deterministic job id per period and cluster, so replicas of the
inventory ask once between them (the job row's key) and the executor runs it once (its
idempotency key); one stays in flight per cluster at a time.

``inventory.node.status_changed`` is emitted when what an operator sees changes (Ready,
registered, cordoned, kubelet version, the conditions that are not OK), not for every
observation.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, aware, utcnow
from autorke_common.errors import Invalid
from autorke_inventory.adapters.orm import ClusterRow, JobRow, MachineRow, MembershipRow
from autorke_inventory.domain import node_status as ns
from autorke_inventory.domain.matching import ObservedNode
from autorke_inventory.service_layer import clusters
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
PURPOSE = "nodes"
#: A periodic refresh still pending after this many periods (at least STALE_MIN_S) is
#: given up, and the next one is asked for.
STALE_PERIODS = 10
STALE_MIN_S = 300.0


def job_id_for(cluster: str, suffix: str) -> str:
    return f"inventory-nodes-{cluster[:40]}-{suffix}"


def request(uow: UnitOfWork, cluster: ClusterRow, actor: str, job_id: str | None = None,
            reason: str = "requested") -> str | None:
    """Ask the executor for the cluster's nodes. Answers the job id, or None when a job
    of that id was already asked for (by another replica or an earlier delivery)."""
    if not cluster.kubeconfig_sealed:
        raise Invalid("no-kubeconfig", f"cluster {cluster.name} has no kubeconfig to reach its API with")
    job_id = job_id or job_id_for(cluster.name, uuid.uuid4().hex[:12])
    if not uow.jobs.add_once(JobRow(job_id=job_id, purpose=PURPOSE, cluster=cluster.name,
                                    status="pending", requested_by=actor,
                                    report={"reason": reason}, created_at=utcnow())):
        return None
    run = ex.ExecutorRun(job_id=job_id, kind="kube", action="list_nodes",
                         params={"cluster": cluster.name},
                         secrets={"kubeconfig": cluster.kubeconfig_sealed}, requested_by=actor,
                         command_timeout_s=120)
    uow.emit(uow.signer.sign(Envelope.of(run, source="inventory", correlation_id=job_id, actor=actor, id=job_id)),
             aggregate=job_id)
    return job_id


def request_soon(uow: UnitOfWork, cluster_name: str, cause: str, actor: str,
                 reason: str = "membership changed") -> str | None:
    """A refresh after a change of the cluster's nodes (``cause``: the command's id, so a
    redelivered command asks once); nothing when the cluster has no kubeconfig."""
    cluster = uow.clusters.get(cluster_name)
    if cluster is None or not cluster.kubeconfig_sealed:
        return None
    suffix = uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster_name}/{cause}").hex[:12]
    return request(uow, cluster, actor, job_id_for(cluster_name, f"m{suffix}"), reason=reason)


def request_periodic(uow: UnitOfWork, interval_s: float, now: float | None = None) -> list[str]:
    """The periodic handler: one refresh per cluster that has a kubeconfig and no refresh
    in flight."""
    slot = int((now if now is not None else time.time()) // interval_s)
    stale_after = timedelta(seconds=max(STALE_PERIODS * interval_s, STALE_MIN_S))
    asked = []
    with uow:
        for name in uow.clusters.with_kubeconfig():
            if _in_flight(uow, name, utcnow() - stale_after):
                continue
            job = request(uow, uow.clusters.get(name), "inventory",
                          job_id_for(name, f"p{slot}"), reason="periodic")
            if job:
                asked.append(job)
        uow.commit()
    return asked


def _in_flight(uow: UnitOfWork, cluster: str, stale_before: datetime) -> bool:
    in_flight = False
    for job in uow.jobs.pending(cluster, PURPOSE):
        if aware(job.created_at) < stale_before:
            job.status, job.finished_at = "failed", utcnow()
            job.report = {**(job.report or {}), "error": "no answer from the executor in time"}
        else:
            in_flight = True
    return in_flight


def apply(uow: UnitOfWork, cluster: ClusterRow, listed: list[tuple[dict[str, Any], ObservedNode]],
          job_id: str | None, actor: str | None) -> dict[str, Any]:
    """Store what a listing shows of each member; members missing from it are recorded as
    not registered. Answers counts for the job's report."""
    members = {m.machine_id: (m, machine) for machine, m in uow.memberships.members(cluster.name)}
    raw_by_name = {o.name: raw for raw, o in listed}
    result = clusters.match(uow, [o for _, o in listed])
    seen: dict[str, tuple[str, ns.NodeStatus]] = {}
    for m in result.matched:
        if m.machine in members:
            seen[m.machine] = (m.node.name, ns.read(raw_by_name[m.node.name]))
    now = utcnow()
    changed = 0
    for machine_id, (membership, machine) in members.items():
        node, status = seen.get(machine_id, (None, ns.NOT_REGISTERED))
        if _store(uow, cluster.name, membership, machine, node, status, now, job_id, actor):
            changed += 1
    return {"members": len(members), "observed": len(seen), "changed": changed,
            "not_members": sorted(m.node.name for m in result.matched if m.machine not in members)}


def _fingerprint(m: MembershipRow) -> tuple | None:
    if m.node_observed_at is None:
        return None
    d = m.node_detail or {}
    return (m.node_ready, d.get("registered", True), bool(m.node_unschedulable), m.kubelet_version,
            tuple(sorted((p["type"], p["status"]) for p in d.get("problems") or [])))


def _store(uow: UnitOfWork, cluster: str, m: MembershipRow, machine: MachineRow, node: str | None,
           status: ns.NodeStatus, now: datetime, job_id: str | None, actor: str | None) -> bool:
    before = _fingerprint(m)
    previous = ns.summary(m.node_ready, (m.node_detail or {}).get("registered", True)) \
        if before is not None else None
    m.node_name = node
    m.node_ready = status.ready
    m.node_unschedulable = status.unschedulable
    m.kubelet_version = status.kubelet_version
    m.node_detail = {"registered": status.registered, "reason": status.reason,
                     "message": status.message, "problems": status.problems}
    m.node_observed_at = now
    changed = before != status.fingerprint()
    if changed:
        m.node_changed_at = now
    if changed:
        event = msg.NodeStatusChanged(
            cluster=cluster, machine=machine.id, hostname=machine.hostname, node=node,
            status=status.summary, previous_status=previous, ready=status.ready,
            registered=status.registered, reason=status.reason,
            problems=[msg.NodeCondition(**p) for p in status.problems],
            unschedulable=status.unschedulable, kubelet_version=status.kubelet_version,
            observed_at=now.isoformat(), job_id=job_id)
        uow.emit(Envelope.of(event, source="inventory", correlation_id=job_id, actor=actor),
                 aggregate=machine.id)
    return changed



def latest_job(uow: UnitOfWork, cluster: str) -> dict[str, Any] | None:
    """The cluster's last node listing (a refresh or an import), as the nodes list shows it."""
    job = uow.jobs.latest(cluster, (PURPOSE, "import"))
    if job is None:
        return None
    report = job.report or {}
    return {"job_id": job.job_id, "status": job.status, "reason": report.get("reason"),
            "error": report.get("error"), "requested_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}
