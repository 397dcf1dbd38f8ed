"""The inventory's handlers: one per command, each opening its unit of work and committing
it. The orchestrator's commands come over the bus (:mod:`.messagebus` dispatches them, with
the dict ``bootstrap`` wires); the REST API's are the commands of
:mod:`autorke_inventory.domain.commands`. What a handler does inside its unit of work is in
the modules named after the thing it handles (``membership``, ``clusters``, ``configs``,
``profiles``, ``proposals``, ``jobs``, ``node_status``).

A config written through the REST API (options, an import from files, a rollback) is never
written by its handler: it becomes a change of the orchestrator, asked for as the caller
(:mod:`.proposals`), and the change's own commands preview and adopt it.

A bus command seen before (same envelope id) is ignored: its handler answers
:data:`DUPLICATE` and changes nothing, so a redelivery has no second effect.

A member placed (or moved to ``member``) also asks for a refresh of its cluster's node
status, so the console shows the new node's Ready without waiting a period; so does a new
``cluster.rkestate``, stored right after ``rke up`` has changed the cluster's nodes (on
RKE1 a node becomes a member before ``rke up`` registers it)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from autorke_common.catalogue import inventory as msg
from autorke_common.claims import inline_only
from autorke_common.envelope import Envelope
from autorke_common.errors import Forbidden, Invalid, Problem
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow
from autorke_inventory.domain import options as cluster_options
from autorke_inventory.domain.commands import (
    ChangeOptions,
    GatherFacts,
    ImportCluster,
    RefreshNodes,
    RegisterCluster,
    RollbackConfig,
    StoreDocument,
    UpdateCluster,
)
from autorke_inventory.service_layer import (
    clusters,
    configs,
    etags,
    jobs,
    lookups,
    membership,
    node_status,
    profiles,
    proposals,
    views,
)
from autorke_inventory.service_layer.proposals import ChangeRequests
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
        if not membership.transition(uow, machine, c.state, expected=c.expected, ordinal=c.ordinal, **_ids(c, d)):
            uow.commit()  # a stale mark of its change: handled, nothing to do
            return DUPLICATE
        member = uow.memberships.get(machine.id)
        if c.state == "member" and member is not None:
            node_status.request_soon(uow, member.cluster, d.command_id, d.actor)
        uow.commit()
    return msg.MachineStateChanged.TYPE


def store_config(c: msg.StoreConfig, uow: UnitOfWork, d: Delivered, *, box: SecretBox,
                 fetch: Callable[[str], str] = inline_only) -> str:
    """Version a config; a sealed one that came as a claim reference (a large rkestate the
    executor keeps) is fetched first, outside the unit of work."""
    if c.content_sealed:
        c = c.model_copy(update={"content_sealed": fetch(c.content_sealed)})
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


def preview_config(c: msg.PreviewConfig, uow: UnitOfWork, d: Delivered, *, box: SecretBox) -> str:
    """What a config change would adopt, redacted, for its approver (nothing else changes)."""
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        proposals.emit(uow, proposals.preview(uow, c, box, d.actor, d.command_id), c, d.command_id, d.actor)
        uow.commit()
    return msg.ConfigPreviewed.TYPE


def adopt_config(c: msg.AdoptConfig, uow: UnitOfWork, d: Delivered, *, box: SecretBox) -> str:
    """An approved config change's proposal becomes the current config."""
    with uow:
        if uow.already_processed(CONSUMER, d.command_id):
            return DUPLICATE
        event = proposals.adopt(uow, c, box, d.actor, d.command_id)
        if event.versions:  # an import placed members, or a new state: read the nodes now
            node_status.request_soon(uow, c.cluster, d.command_id, d.actor, reason="config adopted")
        proposals.emit(uow, event, c, d.command_id, d.actor)
        uow.commit()
    return msg.ConfigAdopted.TYPE


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
        if "options" in c.patch:
            raise Invalid("invalid-request", "options change through a config.update change: send them alone",
                          field="options")
        row = lookups.cluster(uow, c.name)
        etags.check_if_match(c.if_match, row.version)
        row = clusters.update(uow, row, c.patch, box, c.actor)
        uow.commit()
        return views.cluster_view(row, uow.memberships.count(c.name))


def _through_change(uow: UnitOfWork, cluster: str, type_: str, payload: dict[str, Any], box: SecretBox,
                    actor: str, authorization: str | None, changes: ChangeRequests | None) -> dict[str, Any]:
    """Keep ``payload`` as a proposal and ask the orchestrator for the change that adopts
    it, as the caller; the change's view. A change that could not be created leaves no
    proposal behind."""
    if changes is None:
        raise Problem("orchestrator-unavailable", "The orchestrator is not configured", 503,
                      "AUTORKE_ORCHESTRATOR_URL is not set: configs change only through changes")
    with uow:
        row = proposals.propose(uow, lookups.cluster(uow, cluster), type_, payload, box, actor)
        params = proposals.params(row, payload)
        uow.commit()
    try:
        change = changes.create(type=type_, cluster=cluster, params=params, authorization=authorization)
    except BaseException:
        with uow:
            proposals.discard(uow, params["proposal"])
            uow.commit()
        raise
    with uow:
        proposals.bind(uow, params["proposal"], change["id"])
        uow.commit()
    return change


def change_options(c: ChangeOptions, uow: UnitOfWork, *, box: SecretBox,
                   changes: ChangeRequests | None) -> dict[str, Any]:
    """New options become a ``config.update`` change (the change's view); nothing is stored
    as current until it is approved."""
    options = cluster_options.checked(c.options)
    with uow:
        etags.check_if_match(c.if_match, lookups.cluster(uow, c.name).version)
    return _through_change(uow, c.name, "config.update", {"options": options}, box, c.actor, c.authorization,
                           changes)


def import_cluster(c: ImportCluster, uow: UnitOfWork, *, box: SecretBox,
                   changes: ChangeRequests | None = None) -> dict[str, Any]:
    """From files: a ``config.import`` change (its view); the files are kept as its
    proposal, nothing is current until it is approved. Through the Kubernetes API: the
    executor's job (its report comes later, on the job)."""
    if c.source == "kubernetes":
        with uow:
            job_id = jobs.request_kube_import(uow, lookups.cluster(uow, c.name), c.actor)
            uow.commit()
            return {"job_id": job_id, "status": "pending"}
    payload = clusters.checked_import(c.cluster_yml, c.rkestate)
    return _through_change(uow, c.name, "config.import", payload, box, c.actor, c.authorization, changes)


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


def rollback_config(c: RollbackConfig, uow: UnitOfWork, *, box: SecretBox,
                    changes: ChangeRequests | None = None) -> dict[str, Any]:
    """A ``config.rollback`` change (its view): the old version's content becomes a new
    version once it is approved."""
    configs.check_kind(c.kind)
    with uow:
        configs.get_version(uow, lookups.cluster(uow, c.cluster).name, c.kind, c.to)
    payload = {"rollback": {"kind": c.kind, "version": c.to, "comment": c.comment}}
    return _through_change(uow, c.cluster, "config.rollback", payload, box, c.actor, c.authorization, changes)


def store_document(c: StoreDocument, uow: UnitOfWork) -> tuple[dict[str, Any], bool]:
    """A node profile or the label mapping, versioned at once (no change: they act only
    when a change adds nodes); (the latest version's view, whether this stored it)."""
    with uow:
        answer = profiles.store(uow, lookups.cluster(uow, c.cluster), c.kind, c.name, c.spec, actor=c.actor,
                                comment=c.comment, expected_version=c.expected_version)
        uow.commit()
        return answer


def reveal_config(uow: UnitOfWork, box: SecretBox, name: str, kind: str, version: int, *, actor: str,
                  admin: bool) -> dict[str, Any]:
    """One version whole, secrets included, for an admin only; who read it is kept as an
    ``inventory.config.revealed`` event in the same unit (the audit trail of key reads)."""
    configs.check_kind(kind)
    if not admin:
        raise Forbidden("forbidden", "only an admin may reveal a config's secrets")
    with uow:
        row = configs.get_version(uow, name, kind, version)
        text = configs.plaintext(row, box)
        uow.emit(Envelope.of(msg.ConfigRevealed(cluster=name, kind=kind, version=version, by=actor),
                             source="inventory", actor=actor), aggregate=f"{name}/{kind}")
        uow.commit()
    return {**views.version_view(row), "content": text, "redacted": False}
