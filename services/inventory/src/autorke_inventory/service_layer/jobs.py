"""Work the inventory asks of the executor, and what it does with the answers:

* facts: ``executor.run`` ``script``/``facts`` on machines (SSH endpoints and host keys
  from the CMDB; a machine with no known host key is skipped, never trusted on first use);
  each ``executor.target.finished`` stores that machine's facts with their time;
* import through the Kubernetes API: ``kube``/``list_nodes`` with the cluster's sealed
  kubeconfig; the listed nodes are matched to machines and placed, and the report (matched,
  unmatched) is kept on the job row for ``GET /api/v1/clusters/{name}/imports/{job_id}``.
  The same listing gives the members' node status (``node_status``);
* node status refreshes: the same listing, stored on the members (``node_status``).

Every job is signed with the inventory's key (``uow.signer``): the executor runs only
these two read-only kinds for it (C2).

:func:`take_result` is the handler of the executor's results; the rest runs in the
caller's unit of work.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import DomainError, Invalid, Problem
from autorke_inventory.adapters.orm import ClusterRow, JobRow, MachineRow
from autorke_inventory.domain.matching import ObservedNode
from autorke_inventory.domain.records import label_facts
from autorke_inventory.domain.roles import roles_from_node_labels
from autorke_inventory.service_layer import clusters, node_status
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
CONSUMER = "inventory-executor"


def target_for(machine: MachineRow) -> ex.Target | None:
    ssh = (machine.cmdb or {}).get("ssh") or {}
    if not ssh.get("host_key") or not (ssh.get("address") or machine.ip):
        return None
    bastion = ssh.get("bastion")
    jump = None
    if isinstance(bastion, dict) and bastion.get("host_key"):
        jump = ex.SshEndpoint(host=bastion.get("hostname") or bastion["address"],
                              address=bastion["address"], port=int(bastion.get("port") or 22),
                              user=ssh.get("user"), host_key=bastion["host_key"])
    return ex.Target(host=machine.id, address=ssh.get("address") or machine.ip,
                     port=int(ssh.get("port") or 22), user=ssh.get("user"),
                     host_key=ssh["host_key"], bastion=jump)


def request_facts(uow: UnitOfWork, machines: list[MachineRow], actor: str) -> dict[str, Any]:
    targets, skipped = [], []
    for m in machines:
        t = target_for(m)
        (targets.append(t) if t else skipped.append(m.id))
    if not targets:
        raise Invalid("no-reachable-machine", "none of these machines has an SSH address and a known host key",
                      skipped=skipped)
    job_id = f"inventory-facts-{uuid.uuid4().hex}"
    uow.jobs.add(JobRow(job_id=job_id, purpose="facts", status="pending", requested_by=actor,
                           report={"targets": [t.host for t in targets], "skipped": skipped},
                           created_at=utcnow()))
    run = ex.ExecutorRun(job_id=job_id, kind="script", action="facts", targets=targets,
                         fence=[t.host for t in targets], requested_by=actor)
    uow.emit(uow.signer.sign(Envelope.of(run, source="inventory", correlation_id=job_id, actor=actor, id=job_id)),
             aggregate=job_id)
    return {"job_id": job_id, "targets": [t.host for t in targets], "skipped": skipped}


def request_kube_import(uow: UnitOfWork, cluster: ClusterRow, actor: str) -> str:
    if not cluster.kubeconfig_sealed:
        raise Invalid("no-kubeconfig", f"cluster {cluster.name} has no kubeconfig to reach its API with")
    job_id = f"inventory-import-{cluster.name}-{uuid.uuid4().hex[:12]}"
    uow.jobs.add(JobRow(job_id=job_id, purpose="import", cluster=cluster.name,
                           status="pending", requested_by=actor, created_at=utcnow()))
    run = ex.ExecutorRun(job_id=job_id, kind="kube", action="list_nodes",
                         params={"cluster": cluster.name},
                         secrets={"kubeconfig": cluster.kubeconfig_sealed}, requested_by=actor)
    uow.emit(uow.signer.sign(Envelope.of(run, source="inventory", correlation_id=job_id, actor=actor, id=job_id)),
             aggregate=job_id)
    return job_id


def observed_node(node: dict[str, Any]) -> ObservedNode:
    """A node from ``result.nodes`` — a flat summary or a full v1 Node as a dict."""
    meta = node.get("metadata") or {}
    status = node.get("status") or {}
    spec = node.get("spec") or {}
    labels = node.get("labels") or meta.get("labels") or {}
    raw = node.get("addresses") or status.get("addresses") or []
    addresses = [a["address"] if isinstance(a, dict) else str(a) for a in raw]
    addresses += [node[k] for k in ("internal_ip", "address", "ip") if node.get(k)]
    name = node.get("name") or meta.get("name") or ""
    hostnames = [a.get("address") for a in raw if isinstance(a, dict) and a.get("type") == "Hostname"]
    taints = node.get("taints") if "taints" in node else spec.get("taints")
    return ObservedNode(name=hostnames[0] if hostnames and hostnames[0] != name and not name
                        else name, addresses=addresses, roles=roles_from_node_labels(labels),
                        labels={k: str(v) for k, v in labels.items()
                                if not k.startswith(("node-role.kubernetes.io/", "kubernetes.io/",
                                                     "beta.kubernetes.io/", "node.kubernetes.io/"))},
                        taints=[{"key": t.get("key"), "value": t.get("value") or "",
                                 "effect": t.get("effect") or "NoSchedule"} for t in taints or []])


def take_result(env: Envelope, uow: UnitOfWork) -> None:
    """Handle ``executor.target.finished`` / ``executor.job.finished`` for our jobs (others
    are not ours: ignored); a result seen before has no second effect."""
    if not str(env.data.get("job_id", "")).startswith("inventory-"):
        return
    with uow:
        if uow.already_processed(CONSUMER, env.id):
            return
        job = uow.jobs.get(env.data["job_id"])
        if job is not None:
            event = env.parsed()
            if isinstance(event, ex.TargetFinished):
                _target(uow, job, event, env)
            elif isinstance(event, ex.JobFinished) and job.status == "pending" and (
                    job.purpose == "facts" or event.status != "succeeded"):
                # an import is done when its listing target arrived, not before
                job.status = "done" if event.status == "succeeded" else "failed"
                job.finished_at = utcnow()
                job.report = {**(job.report or {}), "job_status": event.status,
                              **({"error": event.error} if event.error else {}),
                              "targets_failed": [t.host for t in event.targets
                                                 if t.status != "succeeded"]}
        uow.commit()


def _target(uow: UnitOfWork, job: JobRow, event: ex.TargetFinished, env: Envelope) -> None:
    if job.purpose == "facts":
        _facts(uow, job, event, env)
    elif job.purpose == "import" and job.status == "pending":
        _imported(uow, job, event, env)
    elif job.purpose == node_status.PURPOSE and job.status == "pending":
        cluster = uow.clusters.get(job.cluster)
        if event.status != "succeeded" or cluster is None:
            job.status = "failed"
            job.report = {**(job.report or {}), "error": event.error or "listing failed"}
        else:
            raw = list(event.result.get("nodes") or [])
            counts = node_status.apply(uow, cluster, [(n, observed_node(n)) for n in raw],
                                       job.job_id, env.actor)
            job.status, job.report = "done", {**(job.report or {}), **counts}
        job.finished_at = utcnow()


def _facts(uow: UnitOfWork, job: JobRow, event: ex.TargetFinished, env: Envelope) -> None:
    machine: MachineRow | None = uow.machines.get(event.host)
    if machine is None or event.status != "succeeded":
        log.info("facts job %s: %s %s", job.job_id, event.host, event.status)
        return
    machine.facts = event.result.get("facts") or event.result
    machine.facts_at = utcnow()
    machine.version += 1
    uow.emit(Envelope.of(msg.MachineUpdated(machine=machine.id, hostname=machine.hostname,
                                            ip=machine.ip, fields=["facts"], facts=label_facts(machine)),
                         source="inventory", correlation_id=job.job_id, actor=env.actor),
             aggregate=machine.id)


def _imported(uow: UnitOfWork, job: JobRow, event: ex.TargetFinished, env: Envelope) -> None:
    """The listing of an import through the Kubernetes API: its matched nodes placed, all
    or nothing (a refusal fails the job and places none)."""
    cluster = uow.clusters.get(job.cluster)
    if event.status != "succeeded" or cluster is None:
        job.status, job.report = "failed", {"error": event.error or "listing failed"}
    else:
        raw = list(event.result.get("nodes") or [])
        nodes = [observed_node(n) for n in raw]
        result = clusters.match(uow, nodes)
        try:
            with uow.savepoint():
                placed = clusters.place_matched(uow, cluster, result, job.requested_by)
            job.status = "done"
            job.report = {"cluster": cluster.name, "source": "kubernetes", "matched": placed,
                          "unmatched": [u.to_dict() for u in result.unmatched]}
            node_status.apply(uow, cluster, list(zip(raw, nodes, strict=True)), job.job_id, env.actor)
        except (DomainError, Problem) as refused:
            job.status, job.report = "failed", {"error": refused.detail, "problem": refused.slug}
    job.finished_at = utcnow()
