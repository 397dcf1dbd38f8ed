"""The orchestrator's commands, each answered by exactly one event: its success event, or
``inventory.command.refused`` with the problem slug (nothing else changes then). A command
seen before (same envelope id) is ignored, so redelivery has no second effect.

A member placed (or moved to ``member``) also asks for a refresh of its cluster's node
status, so the console shows the new node's Ready without waiting a period; so does a new
``cluster.rkestate``, stored right after ``rke up`` has changed the cluster's nodes (on
RKE1 a node becomes a member before ``rke up`` registers it)."""
from __future__ import annotations

import logging

from pydantic import ValidationError

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.errors import Problem
from autorke_common.outbox import Database, UnitOfWork
from autorke_common.secrets import SecretBox

from autorke_inventory.service_layer import configs, membership, node_status
from autorke_inventory.service_layer.queries import find_machine, membership_of

log = logging.getLogger(__name__)
CONSUMER = "inventory-commands"


class CommandHandler:
    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def handle(self, env: Envelope) -> str:
        """Apply one command envelope; returns the type of the answer event."""
        with self.db.unit_of_work() as uow:
            if uow.already_processed(CONSUMER, env.id):
                return "duplicate"
            try:
                if env.type.startswith("inventory.") and not (env.data or {}).get("change_id"):
                    raise Problem("no-open-change", "No open change", 409,
                                  "membership, state and configs change only within a change")
                command = env.parsed()
                if not isinstance(command, msg.Command) or not env.type.startswith("inventory."):
                    raise Problem("invalid-request", "Unknown command", 422,
                                  f"inventory does not handle {env.type!r}")
                if not getattr(command, "change_id", None):
                    raise Problem("no-open-change", "No open change", 409,
                                  "membership, state and configs change only within a change")
                answer = self._dispatch(uow, env, command)
                uow.commit()
                return answer
            except (Problem, ValidationError) as exc:
                uow.session.rollback()
                problem = exc if isinstance(exc, Problem) else Problem(
                    "invalid-request", "Invalid command", 422, str(exc)[:500])
        self._refuse(env, problem)
        return msg.CommandRefused.TYPE

    def _dispatch(self, uow: UnitOfWork, env: Envelope, c: msg.Command) -> str:
        actor = env.actor or env.source
        ids = {"change_id": c.change_id, "command_id": env.id, "actor": actor}  # type: ignore[attr-defined]
        if isinstance(c, msg.AssignMembership):
            machine = find_machine(uow.session, c.machine)
            membership.assign(uow, machine, c.cluster, list(c.roles), c.labels,
                              [t.model_dump() for t in c.taints], **ids)
            node_status.request_soon(uow, c.cluster, env.id, actor)
            return msg.MembershipChanged.TYPE
        if isinstance(c, msg.ReleaseMembership):
            membership.release(uow, find_machine(uow.session, c.machine), c.cluster, **ids)
            return msg.MembershipChanged.TYPE
        if isinstance(c, msg.UpdateNode):
            membership.update_node(uow, find_machine(uow.session, c.machine), c.cluster,
                                   c.labels, None if c.taints is None
                                   else [t.model_dump() for t in c.taints], **ids)
            return msg.MembershipChanged.TYPE
        if isinstance(c, msg.TransitionMachine):
            machine = find_machine(uow.session, c.machine)
            membership.transition(uow, machine, c.state, expected=c.expected, **ids)
            member = membership_of(uow.session, machine.id)
            if c.state == "member" and member is not None:
                node_status.request_soon(uow, member.cluster, env.id, actor)
            return msg.MachineStateChanged.TYPE
        if isinstance(c, msg.StoreConfig):
            cluster = membership.require_cluster(uow, c.cluster)
            content = self._config_content(uow, c, cluster)
            configs.store(uow, cluster, c.kind, content, self.box, actor=actor,
                          change_id=c.change_id, command_id=env.id, comment=c.comment)
            if c.kind == "cluster.rkestate":
                node_status.request_soon(uow, cluster.name, env.id, actor, reason="cluster state stored")
            return msg.ConfigVersioned.TYPE
        raise Problem("invalid-request", "Unknown command", 422, f"no handler for {env.type}")

    def _config_content(self, uow: UnitOfWork, c: msg.StoreConfig, cluster) -> str:  # noqa: ANN001
        if c.render:
            if c.kind != "cluster.yml":
                raise Problem("invalid-request", "Cannot render", 422, "only cluster.yml renders")
            return configs.render_cluster_yml(uow, cluster)
        if c.kind in ("cluster.rkestate", "kubeconfig"):
            if not c.content_sealed or c.content:
                raise Problem("invalid-request", "Secret not sealed", 422,
                              f"{c.kind} must come sealed (content_sealed), never in plain text")
            return self.box.open(c.content_sealed)
        if not c.content:
            raise Problem("invalid-request", "No content", 422, "give content or render=true")
        return c.content

    def _refuse(self, env: Envelope, problem: Problem) -> None:
        data = env.data if isinstance(env.data, dict) else {}
        with self.db.unit_of_work() as uow:
            uow.already_processed(CONSUMER, env.id)
            uow.emit(Envelope.of(msg.CommandRefused(
                command=env.type, command_id=env.id, change_id=data.get("change_id"),
                problem=problem.slug, detail=problem.detail or problem.title,
                machine=data.get("machine"), cluster=data.get("cluster")),
                source="inventory", correlation_id=data.get("change_id") or env.correlation_id,
                causation_id=env.id, actor=env.actor), aggregate=data.get("machine"))
            uow.commit()
        log.info("refused %s %s: %s", env.type, env.id, problem.slug)
