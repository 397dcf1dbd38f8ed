"""Turns the saga's orders into the other services' commands (their catalogue contracts),
written to the outbox with the change's state: an ``executor.run`` per job (its fence is
the change's blast radius), one ``inventory.*`` command per host (``per_host``
params: that host's own, such as its labels) and one ``netcfg.ippool.*`` or
``netcfg.ticket.*`` command per netcfg step. Envelope ids are
derived from the job id, so a re-sent order is dropped by NATS and by the receiver. Every
command is signed with the orchestrator's key (C2: the executor and the inventory obey
nothing else); an rke job carries the endpoint of every host of its fence as ``targets``,
the addresses the executor holds cluster.yml's nodes to (H1). A job's secrets travel as
claims (:mod:`autorke_common.claims`): a reference plus digest the executor fetches from
the orchestrator (or from the inventory, for a config it keeps by reference), never the
sealed value itself."""
from __future__ import annotations

from autorke_common import claims
from autorke_common.catalogue import Command
from autorke_common.catalogue.executor import ExecutorRun, SshEndpoint, Target
from autorke_common.catalogue.inventory import (
    AdoptConfig,
    AssignMembership,
    PreviewConfig,
    ReleaseMembership,
    StoreConfig,
    TransitionMachine,
    UpdateNode,
)
from autorke_common.catalogue.netcfg import (
    ApplyPool,
    ApproveTicket,
    CheckPool,
    ConfirmTicket,
    PlanTicket,
    RevertTicket,
)
from autorke_common.envelope import Envelope
from autorke_orchestrator.domain.flow import ClusterView
from autorke_orchestrator.domain.model import Change
from autorke_orchestrator.domain.orders import MARK_COMMAND
from autorke_orchestrator.domain.saga import Order
from autorke_orchestrator.service_layer.unit_of_work import UnitOfWork

SOURCE = "orchestrator"
NETCFG_COMMANDS: dict[str, type[Command]] = {c.TYPE: c for c in (CheckPool, ApplyPool)}
#: a node.add's flat-network ticket, answered by netcfg's ticket events (by ticket id)
TICKET_COMMANDS: dict[str, type[Command]] = {c.TYPE: c for c in (PlanTicket, ApproveTicket, ConfirmTicket,
                                                                  RevertTicket)}
INVENTORY_COMMANDS: dict[str, type[Command]] = {
    c.TYPE: c for c in (AssignMembership, ReleaseMembership, StoreConfig, TransitionMachine, UpdateNode,
                        PreviewConfig, AdoptConfig)}


def command_id(job_id: str, index: int, host: str) -> str:
    cid = f"{job_id}|{host}"
    return cid if len(cid) <= 64 else f"{job_id}|#{index}"


def parse_command_id(value: str | None) -> tuple[str, str] | None:
    if not value or "|" not in value:
        return None
    job, _, host = value.rpartition("|")
    return job, host


def _target(change: Change, host: str) -> Target:
    e = change.endpoints.get(host)
    if e is None:
        raise LookupError(f"no SSH endpoint known for {host}")
    bastion = SshEndpoint(**e.bastion) if e.bastion else None
    return Target(host=host, address=e.address, port=e.port, user=e.user, host_key=e.host_key, bastion=bastion)


def _secrets(uow: UnitOfWork, names: tuple[str, ...], cluster: ClusterView | None) -> dict[str, str]:
    configs = cluster.configs_sealed if cluster else {}
    available = {"kubeconfig": cluster.kubeconfig_sealed if cluster else None,
                 "token": cluster.join_token_sealed if cluster else None,
                 "cluster_yml": configs.get("cluster.yml"), "rkestate": configs.get("cluster.rkestate")}
    return {n: _claimed(uow, available[n]) for n in names if available.get(n)}


def _claimed(uow: UnitOfWork, value: str) -> str:
    return value if claims.parse(value) else uow.claim(value)


def send(uow: UnitOfWork, change: Change, order: Order, cluster: ClusterView | None, actor: str) -> None:
    """Record the order as sent and write its commands to the outbox. A lifecycle mark also
    sets the machines' state in the read model at once: the flow that sends it is the one
    that decides with it next (node.add right after machine.init must not init again)."""
    uow.jobs.record(change.id, order)
    if order.purpose == "mark" and order.job.action == MARK_COMMAND:
        uow.directory.expect_state(list(order.job.hosts), order.job.params["state"])
    for env in envelopes(uow, change, order, cluster, actor):
        uow.emit(uow.signer.sign(env), aggregate=change.id)


def _netcfg_command(change: Change, order: Order) -> Envelope:
    """One ``netcfg.ippool.*`` command per order, answered under ``command_id`` (the order's
    job id and the pseudo target its step reports under)."""
    job = order.job
    cid = command_id(order.job_id, 0, job.reported[0])
    if job.action in TICKET_COMMANDS:
        cls = TICKET_COMMANDS[job.action]
        extra = {"requested_by": change.requested_by} if "requested_by" in cls.model_fields else {}
        return Envelope.of(cls(**extra, **job.params), source=SOURCE, correlation_id=change.id,
                           actor=change.requested_by, id=cid)
    cmd = NETCFG_COMMANDS[job.action](command_id=cid, change_id=change.id, cluster=change.cluster,
                                      requested_by=change.requested_by, **job.params)
    return Envelope.of(cmd, source=SOURCE, correlation_id=change.id, actor=change.requested_by, id=cid)


def envelopes(uow: UnitOfWork, change: Change, order: Order, cluster: ClusterView | None,
              actor: str) -> list[Envelope]:
    job = order.job
    if job.service == "executor":
        hosts = job.hosts if job.kind != "rke" else [h for h in change.blast_hosts if h in change.endpoints]
        run = ExecutorRun(job_id=order.job_id, change_id=change.id, kind=job.kind, action=job.action,
                          targets=[_target(change, h) for h in hosts], fence=list(change.blast_hosts),
                          params=job.params, secrets=_secrets(uow, job.secrets, cluster),
                          command_timeout_s=job.timeout_s, requested_by=change.requested_by)
        return [Envelope.of(run, source=SOURCE, correlation_id=change.id, actor=actor, id=f"cmd-{order.job_id}")]
    if job.service == "netcfg":
        return [_netcfg_command(change, order)]
    cls = INVENTORY_COMMANDS[job.action]
    out = []
    hosts = job.hosts or job.reported
    shared = {k: v for k, v in job.params.items() if k != "per_host"}
    per_host = job.params.get("per_host") or {}
    for i, host in enumerate(hosts):
        fields = {"change_id": change.id, **shared, **per_host.get(host, {})}
        if "machine" in cls.model_fields:
            fields["machine"] = host
        out.append(Envelope.of(cls(**fields), source=SOURCE, correlation_id=change.id, actor=actor,
                               id=command_id(order.job_id, i, host)))
    return out
