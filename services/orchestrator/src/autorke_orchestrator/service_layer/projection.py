"""Keeps the read model of machines and clusters (``uow.directory``) from the inventory's
events, and turns the inventory's answers to our commands (matched by ``command_id``) into
step results. Idempotent: every event is recorded as processed in the same transaction.

A config version is kept for ``rke`` jobs only when it was stored within a change of ours
that a human (or its policy) approved (H2): a version the inventory stored otherwise (a
kubeconfig at registration, anything from before this rule) is never handed to rke."""
from __future__ import annotations

from typing import Any

from autorke_common.catalogue import inventory as inv
from autorke_common.envelope import Envelope
from autorke_orchestrator.adapters import inventory_data
from autorke_orchestrator.domain.orders import parse_job_id
from autorke_orchestrator.domain.saga import Outcome
from autorke_orchestrator.service_layer import handlers
from autorke_orchestrator.service_layer.commands import TakeResults
from autorke_orchestrator.service_layer.dispatch import parse_command_id
from autorke_orchestrator.service_layer.unit_of_work import Jobs, UnitOfWork

CONSUMER = "orchestrator-inventory"
#: Machine events read without the fields this catalogue does not declare (a newer inventory's).
MACHINE_EVENTS = {c.TYPE: c for c in (inv.MachineAdded, inv.MachineUpdated)}


def _approved(uow: UnitOfWork, change_id: str | None) -> bool:
    """Whether ``change_id`` is a change of ours that passed an approval gate."""
    change = uow.changes.get(change_id) if change_id else None
    return change is not None and any(a.decision == "approve" for a in change.approvals if a)


def _project(uow: UnitOfWork, msg: Any) -> None:
    directory = uow.directory
    if isinstance(msg, (inv.MachineAdded, inv.MachineUpdated)):
        ssh = inventory_data.ssh(msg.ssh)
        known: dict[str, Any] = {"ssh": ssh} if ssh is not None else {}
        if isinstance(msg, inv.MachineAdded):
            known["state"] = msg.state
        if msg.facts is not None:
            known["facts"] = msg.facts.model_dump()
        directory.upsert_machine(msg.machine, msg.hostname, ip=msg.ip, **known)
    elif isinstance(msg, inv.MachineRetired):
        directory.upsert_machine(msg.machine, msg.hostname, state="retired")
    elif isinstance(msg, inv.MachineStateChanged):
        if _answers_a_mark(msg.command_id):  # set when the mark was sent; a late echo must not undo a newer one
            directory.upsert_machine(msg.machine, msg.hostname)
        else:
            directory.upsert_machine(msg.machine, msg.hostname, state=msg.to_state)
    elif isinstance(msg, inv.MembershipChanged):
        released = msg.action == "released"
        directory.upsert_machine(msg.machine, msg.hostname, cluster=None if released else msg.cluster,
                                 roles=[] if released else list(msg.roles), labels=dict(msg.labels),
                                 taints=[t.model_dump() for t in msg.taints])
    elif isinstance(msg, (inv.ClusterRegistered, inv.ClusterUpdated)):
        directory.upsert_cluster(msg.name, provider=msg.provider, api_endpoint=msg.api_endpoint,
                                 kubeconfig_sealed=msg.kubeconfig_sealed, bastion=msg.bastion,
                                 join_address=msg.join_address, join_token_sealed=msg.join_token_sealed)
    elif isinstance(msg, inv.NodeProfileVersioned):
        directory.keep_document(msg.cluster, msg.kind, msg.name, msg.version, msg.spec)
    elif isinstance(msg, inv.ConfigVersioned) and _approved(uow, msg.change_id):
        directory.keep_config(msg.cluster, msg.kind, msg.version, msg.content_sealed)


def _answers_a_mark(command_id: str | None) -> bool:
    """Whether an inventory event answers one of our lifecycle marks (its command id)."""
    parsed = parse_command_id(command_id)
    job = parse_job_id(parsed[0]) if parsed else None
    return job is not None and job[2] == "mark"


def _answer(jobs: Jobs, msg: Any) -> tuple[str, str, Outcome] | None:
    parsed = parse_command_id(getattr(msg, "command_id", None))
    if parsed is None:
        return None
    job_id, host = parsed
    if host.startswith("#"):
        hosts = jobs.hosts(job_id)
        if hosts is None:
            return None
        host = hosts[int(host[1:])]
    if isinstance(msg, inv.CommandRefused):
        return job_id, host, Outcome("failed", f"{msg.problem}: {msg.detail}", "refused")
    if isinstance(msg, inv.ConfigVersioned):
        result: dict[str, Any] = {"version": msg.version}
    elif isinstance(msg, inv.ConfigPreviewed):  # what the approver reads, on the check step
        result = {"preview": {"proposal": msg.proposal, "diffs": [d.model_dump() for d in msg.diffs],
                              "matched": msg.matched, "unmatched": msg.unmatched}}
    elif isinstance(msg, inv.ConfigAdopted):
        result = {"versions": msg.versions, "options_changed": msg.options_changed}
    else:
        result = {}
    return job_id, host, Outcome("succeeded", result=result)


def handle(env: Envelope, uow: UnitOfWork) -> None:
    msg = inventory_data.message(env, MACHINE_EVENTS)
    with uow:
        if not uow.already_processed(CONSUMER, env.id):
            _project(uow, msg)
        answer = _answer(uow.jobs, msg)
        uow.commit()
    # Taken even when the projection had been: a delivery that failed after projecting (the
    # database went away in take_results) must still answer its step on the redelivery, or
    # the step waits out its deadline. take_results is idempotent under its own key.
    if answer:
        job_id, host, outcome = answer
        handlers.take_results(TakeResults(CONSUMER + "-answers", env.id, job_id, {host: outcome}), uow)
