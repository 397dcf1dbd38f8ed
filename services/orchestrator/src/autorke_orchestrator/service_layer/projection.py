"""Keeps the read model of machines and clusters from the inventory's events, and turns the
inventory's answers to our commands (matched by ``command_id``) into step results.
Idempotent: every event is recorded as processed in the same transaction."""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import inventory as inv
from autorke_common.envelope import Envelope
from autorke_common.outbox import Database

from autorke_orchestrator.adapters import directory, inventory_data
from autorke_orchestrator.adapters.orm import JobRow
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.dispatch import parse_command_id

CONSUMER = "orchestrator-inventory"
#: Machine events read tolerantly: they may carry SSH data the catalogue does not declare yet.
TOLERANT = {c.TYPE: c for c in (inv.MachineAdded, inv.MachineUpdated)}


def _project(session: Any, msg: Any, data: dict[str, Any]) -> None:
    ssh = inventory_data.ssh(data)
    known = {"ssh": ssh} if ssh is not None else {}
    if isinstance(msg, inv.MachineAdded):
        directory.upsert_machine(session, msg.machine, msg.hostname, ip=msg.ip, state=msg.state, **known)
    elif isinstance(msg, inv.MachineUpdated):
        directory.upsert_machine(session, msg.machine, msg.hostname, ip=msg.ip, **known)
    elif isinstance(msg, inv.MachineRetired):
        directory.upsert_machine(session, msg.machine, msg.hostname, state="retired")
    elif isinstance(msg, inv.MachineStateChanged):
        directory.upsert_machine(session, msg.machine, msg.hostname, state=msg.to_state)
    elif isinstance(msg, inv.MembershipChanged):
        released = msg.action == "released"
        directory.upsert_machine(session, msg.machine, msg.hostname, cluster=None if released else msg.cluster,
                                 roles=[] if released else list(msg.roles), labels=dict(msg.labels),
                                 taints=[t.model_dump() for t in msg.taints])
    elif isinstance(msg, (inv.ClusterRegistered, inv.ClusterUpdated)):
        directory.upsert_cluster(session, msg.name, provider=msg.provider, api_endpoint=msg.api_endpoint,
                                 kubeconfig_sealed=msg.kubeconfig_sealed, bastion=msg.bastion,
                                 join_address=msg.join_address, join_token_sealed=msg.join_token_sealed)
    elif isinstance(msg, inv.ConfigVersioned):
        directory.keep_config(session, msg.cluster, msg.kind, msg.version, msg.content_sealed)


def _answer(session: Any, msg: Any) -> tuple[str, str, Outcome] | None:
    parsed = parse_command_id(getattr(msg, "command_id", None))
    if parsed is None:
        return None
    job_id, host = parsed
    if host.startswith("#"):
        row = session.get(JobRow, job_id)
        if row is None:
            return None
        host = row.hosts[int(host[1:])]
    if isinstance(msg, inv.CommandRefused):
        return job_id, host, Outcome("failed", f"{msg.problem}: {msg.detail}", "refused")
    result = {"version": msg.version} if isinstance(msg, inv.ConfigVersioned) else {}
    return job_id, host, Outcome("succeeded", result=result)


def handle(db: Database, env: Envelope) -> None:
    msg = inventory_data.message(env, TOLERANT)
    with db.unit_of_work() as uow:
        if uow.already_processed(CONSUMER, env.id):
            return
        _project(uow.session, msg, env.data)
        answer = _answer(uow.session, msg)
        uow.commit()
    if answer:
        job_id, host, outcome = answer
        handlers.take_results(db, CONSUMER + "-answers", env.id, job_id, {host: outcome})
