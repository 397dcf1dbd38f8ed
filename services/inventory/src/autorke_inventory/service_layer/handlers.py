"""The inventory's handlers: one per command, each opening its unit of work and committing
it. The orchestrator's commands come over the bus (:mod:`.messagebus` dispatches them, with
the dict ``bootstrap`` wires); the REST API's are the commands of
:mod:`autorke_inventory.domain.commands`. What a handler does inside its unit of work is in
the modules named after the thing it handles (``membership``, ``clusters``, ``configs``,
``jobs``, ``node_status``).

A bus command seen before (same envelope id) is ignored: its handler answers
:data:`DUPLICATE` and changes nothing, so a redelivery has no second effect.

A member placed (or moved to ``member``) also asks for a refresh of its cluster's node
status, so the console shows the new node's Ready without waiting a period; so does a new
``cluster.rkestate``, stored right after ``rke up`` has changed the cluster's nodes (on
RKE1 a node becomes a member before ``rke up`` registers it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autorke_common.catalogue import inventory as msg
from autorke_common.errors import Invalid
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow
from autorke_inventory.domain.commands import (
    GatherFacts,
    ImportCluster,
    RefreshNodes,
    RegisterCluster,
    RollbackConfig,
    UpdateCluster,
)
from autorke_inventory.service_layer import clusters, configs, etags, jobs, lookups, membership, node_status, views
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

#: The durable of the orchestrator's commands (also the name their processed marks carry).
CONSUMER = "inventory-commands"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Delivered:
    """Which envelope carried a bus command, and on whose behalf."""

    command_id: str
    actor: str


def _ids(c: Any, d: Delivered) -> dict[str, Any]:
    return {"change_id": c.change_id, "command_id": d.command_id, "actor": d.actor}


# -- the orchestrator's commands ---------------------------------------------------------
def assign_membership(c: msg.AssignMembership, uow: UnitOfWork, d: Delivered) -> str:
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        machine = lookups.machine(uow, c.machine)
        membership.assign(uow, machine, c.cluster, list(c.roles), c.labels,
                          [t.model_dump() for t in c.taints], **_ids(c, d))
        node_status.request_soon(uow, c.cluster, d.command_id, d.actor)
        uow.commit()
    return msg.MembershipChanged.TYPE


def release_membership(c: msg.ReleaseMembership, uow: UnitOfWork, d: Delivered) -> str:
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        membership.release(uow, lookups.machine(uow, c.machine), c.cluster, **_ids(c, d))
        uow.commit()
    return msg.MembershipChanged.TYPE


def update_node(c: msg.UpdateNode, uow: UnitOfWork, d: Delivered) -> str:
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        taints = None if c.taints is None else [t.model_dump() for t in c.taints]
        membership.update_node(uow, lookups.machine(uow, c.machine), c.cluster, c.labels, taints,
                               **_ids(c, d))
        uow.commit()
    return msg.MembershipChanged.TYPE


def transition_machine(c: msg.TransitionMachine, uow: UnitOfWork, d: Delivered) -> str:
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        machine = lookups.machine(uow, c.machine)
        membership.transition(uow, machine, c.state, expected=c.expected, **_ids(c, d))
        member = uow.memberships.get(machine.id)
        if c.state == "member" and member is not None:
            node_status.request_soon(uow, member.cluster, d.command_id, d.actor)
        uow.commit()
    return msg.MachineStateChanged.TYPE


def store_config(c: msg.StoreConfig, uow: UnitOfWork, d: Delivered, *, box: SecretBox) -> str:
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        cluster = lookups.cluster(uow, c.cluster)
        content = _config_content(uow, c, cluster, box)
        configs.store(uow, cluster, c.kind, content, box, actor=d.actor, change_id=c.change_id,
                      command_id=d.command_id, comment=c.comment)
        if c.kind == "cluster.rkestate":
            node_status.request_soon(uow, cluster.name, d.command_id, d.actor, reason="cluster state stored")
        uow.commit()
    return msg.ConfigVersioned.TYPE


def _config_content(uow: UnitOfWork, c: msg.StoreConfig, cluster: ClusterRow, box: SecretBox) -> str:
    if c.render:
        if c.kind != "cluster.yml":
            raise Invalid("invalid-request", "only cluster.yml renders")
        return configs.render_cluster_yml(uow, cluster)
    if c.kind in ("cluster.rkestate", "kubeconfig"):
        if not c.content_sealed or c.content:
            raise Invalid("invalid-request", f"{c.kind} must come sealed (content_sealed), never in plain text")
        return box.open(c.content_sealed)
    if not c.content:
        raise Invalid("invalid-request", "give content or render=true")
    return c.content


# -- the REST API's commands -------------------------------------------------------------
def register_cluster(c: RegisterCluster, uow: UnitOfWork, *, box: SecretBox) -> dict[str, Any]:
    with uow:
        row = clusters.register(uow, c.data, box, c.actor)
        uow.commit()
        return views.cluster_view(row, 0)


def update_cluster(c: UpdateCluster, uow: UnitOfWork, *, box: SecretBox) -> dict[str, Any]:
    with uow:
        row = lookups.cluster(uow, c.name)
        etags.check_if_match(c.if_match, row.version)
        row = clusters.update(uow, row, c.patch, box, c.actor)
        uow.commit()
        return views.cluster_view(row, uow.memberships.count(c.name))


def import_cluster(c: ImportCluster, uow: UnitOfWork, *, box: SecretBox) -> dict[str, Any]:
    """From files: the report, now. Through the Kubernetes API: the executor's job (its
    report comes later, on the job)."""
    with uow:
        row = lookups.cluster(uow, c.name)
        if c.source == "kubernetes":
            job_id = jobs.request_kube_import(uow, row, c.actor)
            uow.commit()
            return {"job_id": job_id, "status": "pending"}
        if not c.cluster_yml:
            raise Invalid("invalid-request", "an import from files needs cluster_yml (and usually rkestate)")
        report = clusters.import_from_files(uow, row, c.cluster_yml, c.rkestate, box, c.actor)
        if row.kubeconfig_sealed:  # the files say who the members are, the API how they are
            report["node_status_job"] = node_status.request(uow, row, c.actor, reason="imported")
        uow.commit()
        return report


def refresh_nodes(c: RefreshNodes, uow: UnitOfWork) -> dict[str, Any]:
    """Read the nodes' status from the cluster's API now (through the executor)."""
    with uow:
        job_id = node_status.request(uow, lookups.cluster(uow, c.cluster), c.actor)
        uow.commit()
        return {"job_id": job_id, "status": "pending"}


def gather_facts(c: GatherFacts, uow: UnitOfWork) -> dict[str, Any]:
    with uow:
        answer = jobs.request_facts(uow, [lookups.machine(uow, key) for key in c.machines], c.actor)
        uow.commit()
        return answer


def rollback_config(c: RollbackConfig, uow: UnitOfWork, *, box: SecretBox) -> dict[str, Any]:
    """The old version's content stored again, as a new version."""
    configs.check_kind(c.kind)
    with uow:
        cluster = lookups.cluster(uow, c.cluster)
        old = configs.get_version(uow, c.cluster, c.kind, c.to)
        row = configs.store(uow, cluster, c.kind, configs.plaintext(old, box), box, actor=c.actor,
                            change_id=c.change_id, comment=c.comment or f"rollback to version {c.to}",
                            rollback_of=c.to)
        uow.commit()
        return views.version_view(row)
