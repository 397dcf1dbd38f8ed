"""Config writes made through the REST API (H1, H2): new options, an imported cluster.yml
and/or cluster.rkestate, a rollback. None of them writes the config: each is kept as a
*proposal* (its content sealed, with a digest) and becomes a change of the orchestrator
(``config.update``, ``config.import``, ``config.rollback``) whose params carry only the
proposal's id, digest and kinds — never the content (an rkestate holds every private key
of the cluster, and params travel in events).

The change's check asks for a :func:`preview` (the redacted unified diff against the
current version of each kind, an rkestate's certificate changes by digest, the nodes an
imported cluster.yml matches), shown on the change for its approver; its action, once
approved, asks to :func:`adopt` it: new versions tagged with the change's id, the only
ones the orchestrator hands to ``rke``. A proposal belongs to one change (bound when the
REST call created it, or by its requester's first preview); another change naming it, a
wrong digest or cluster, or a version adopted since the preview (the approver saw a diff
against an older one) is refused and changes nothing.

Runs in the caller's unit of work."""
from __future__ import annotations

import difflib
import json
import uuid
from typing import Any, Protocol

import yaml

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Conflict, Missing
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow, ConfigVersionRow, ProposalRow
from autorke_inventory.domain import clusterconfig, redaction
from autorke_inventory.service_layer import clusters, configs, lookups
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

TYPES = ("config.update", "config.import", "config.rollback")


class ChangeRequests(Protocol):
    """The orchestrator's API, as the caller (``autorke_common.change_requests``)."""

    def create(self, *, type: str, cluster: str | None, params: dict[str, Any],
               targets: list[str] | None = None, authorization: str | None = None) -> dict[str, Any]: ...


def digest(payload: dict[str, Any]) -> str:
    return redaction.content_hash(json.dumps(payload, sort_keys=True, separators=(",", ":")))


def propose(uow: UnitOfWork, cluster: ClusterRow, type_: str, payload: dict[str, Any], box: SecretBox,
            actor: str) -> ProposalRow:
    """Keep ``payload`` (``{"options": ...}``, ``{"cluster.yml": ..., "cluster.rkestate": ...}``
    or ``{"rollback": {"kind", "version"}}``), sealed, for a change to adopt."""
    kinds = (["options", "cluster.yml"] if type_ == "config.update" else
             [payload["rollback"]["kind"]] if type_ == "config.rollback" else
             [k for k in configs.KINDS if k in payload])
    row = ProposalRow(id=f"prp-{uuid.uuid4().hex[:16]}", cluster=cluster.name, type=type_, kinds=kinds,
                      content=box.seal(json.dumps(payload)), digest=digest(payload), status="proposed",
                      created_by=actor, created_at=utcnow())
    uow.proposals.add(row)
    return row


def params(row: ProposalRow, payload: dict[str, Any]) -> dict[str, Any]:
    """The change's params: what names the proposal, and what the plan may say of it."""
    out: dict[str, Any] = {"proposal": row.id, "digest": row.digest, "kinds": list(row.kinds)}
    if row.type == "config.rollback":
        out["version"] = payload["rollback"]["version"]
    return out


def bind(uow: UnitOfWork, proposal_id: str, change_id: str) -> None:
    row = uow.proposals.get(proposal_id)
    if row is not None and row.change_id is None:
        row.change_id = change_id


def discard(uow: UnitOfWork, proposal_id: str) -> None:
    """A proposal whose change was never created."""
    row = uow.proposals.get(proposal_id)
    if row is not None and row.change_id is None:
        uow.proposals.remove(row)


def _claimed(uow: UnitOfWork, c: msg.PreviewConfig | msg.AdoptConfig, actor: str, box: SecretBox
             ) -> tuple[ProposalRow, dict[str, Any]]:
    row = uow.proposals.get(c.proposal or "")
    if row is None:
        raise Missing("not-found", f"proposal {c.proposal!r} does not exist")
    if row.cluster != c.cluster:
        raise Conflict("proposal-mismatch", f"proposal {row.id} is for cluster {row.cluster}, not {c.cluster}")
    payload = json.loads(box.open(row.content))
    if not c.digest or c.digest != row.digest or digest(payload) != row.digest:
        raise Conflict("proposal-mismatch", f"proposal {row.id}: the digest does not match its content")
    if row.change_id is None:  # the change was created a moment ago: its requester's own
        if actor != row.created_by:
            raise Conflict("proposal-taken", f"proposal {row.id} was made by another user")
        row.change_id = c.change_id
    elif row.change_id != c.change_id:
        raise Conflict("proposal-taken", f"proposal {row.id} belongs to change {row.change_id}")
    if row.status != "proposed":
        raise Conflict("proposal-adopted", f"proposal {row.id} was adopted already")
    return row, payload


def _diff(kind: str, before: tuple[int | None, str], after: str, label: str, note: str | None = None,
          ) -> dict[str, Any]:
    version, old = before
    text = redaction.diff(kind, old, after, f"{kind}@{version}" if version else f"{kind} (none yet)", label)
    out: dict[str, Any] = {"kind": kind, "from_version": version, "diff": text, "note": note}
    if kind == "cluster.rkestate":
        changes = redaction.certificate_changes(old, after)
        out["certificates"] = changes
        out["ca_changes"] = any(redaction.is_ca(n) for n in changes)
    return out


def _options_yaml(options: dict[str, Any]) -> str:
    return yaml.safe_dump(redaction.redact_options(options), sort_keys=True) if options else ""


def _preview(uow: UnitOfWork, cluster: ClusterRow, row: ProposalRow, payload: dict[str, Any],
             box: SecretBox) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the preview, the versions it diffed against)."""
    name = cluster.name
    diffs: list[dict[str, Any]] = []
    base: dict[str, Any] = {}
    report: dict[str, Any] = {"matched": [], "unmatched": []}
    if row.type == "config.update":
        new = payload["options"]
        diffs.append({"kind": "options", "from_version": cluster.version,
                      "diff": "".join(difflib.unified_diff(
                          _options_yaml(cluster.options).splitlines(True), _options_yaml(new).splitlines(True),
                          "options (current)", "options (proposed)"))})
        base["options"] = redaction.content_hash(json.dumps(cluster.options or {}, sort_keys=True))
        current = configs.current_text(uow, name, "cluster.yml", box)
        base["cluster.yml"] = current[0]
        if uow.memberships.count(name):
            diffs.append(_diff("cluster.yml", current, configs.render_cluster_yml(uow, cluster, new),
                               "cluster.yml (rendered with the proposed options)"))
        else:
            diffs.append({"kind": "cluster.yml", "from_version": current[0], "diff": "",
                          "note": "the cluster has no members: cluster.yml is rendered at its first node.add"})
    elif row.type == "config.import":
        for kind in row.kinds:
            current = configs.current_text(uow, name, kind, box)
            base[kind] = current[0]
            diffs.append(_diff(kind, current, payload[kind], f"{kind} (imported)"))
        if "cluster.yml" in payload:
            doc = clusterconfig.validate(payload["cluster.yml"])
            result = clusters.match(uow, clusters.nodes_from_cluster_yml(doc))
            report = {"matched": [{"node": m.node.name, "machine": m.machine, "by": m.by,
                                   "hostname": uow.machines.get(m.machine).hostname,
                                   "roles": sorted(m.node.roles or ["worker"])} for m in result.matched],
                      "unmatched": [u.to_dict() for u in result.unmatched]}
    else:
        kind, version = payload["rollback"]["kind"], int(payload["rollback"]["version"])
        current = configs.current_text(uow, name, kind, box)
        base[kind] = current[0]
        old = configs.plaintext(configs.get_version(uow, name, kind, version), box)
        diffs.append(_diff(kind, current, old, f"{kind}@{version} (rolled back to)"))
    return {"diffs": diffs, **report}, base


def _truncated(diffs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in diffs:
        cut = len(d.get("diff") or "") > redaction.DIFF_LIMIT
        out.append({**d, "diff": (d.get("diff") or "")[:redaction.DIFF_LIMIT], "truncated": cut})
    return out


def preview(uow: UnitOfWork, c: msg.PreviewConfig, box: SecretBox, actor: str, command_id: str
            ) -> msg.ConfigPreviewed:
    cluster = lookups.cluster(uow, c.cluster)
    row, payload = _claimed(uow, c, actor, box)
    shown, base = _preview(uow, cluster, row, payload, box)
    row.preview, row.base = shown, base
    return msg.ConfigPreviewed(cluster=cluster.name, change_id=c.change_id, command_id=command_id,
                               proposal=row.id, digest=row.digest, diffs=_truncated(shown["diffs"]),
                               matched=shown["matched"], unmatched=shown["unmatched"])


def _unchanged_since_preview(uow: UnitOfWork, cluster: ClusterRow, row: ProposalRow) -> None:
    if row.base is None:
        raise Conflict("proposal-not-previewed", f"proposal {row.id} was never previewed: nothing was approved")
    moved = []
    for kind, version in row.base.items():
        if kind == "options":
            now = redaction.content_hash(json.dumps(cluster.options or {}, sort_keys=True))
            if now != version:
                moved.append("options")
        elif uow.configs.latest_version(cluster.name, kind) != version:
            moved.append(kind)
    if moved:
        raise Conflict("config-changed-since-preview", f"{', '.join(moved)} of {cluster.name} changed after the "
                       "preview this change was approved on; nothing adopted: propose it again")


def adopt(uow: UnitOfWork, c: msg.AdoptConfig, box: SecretBox, actor: str, command_id: str) -> msg.ConfigAdopted:
    cluster = lookups.cluster(uow, c.cluster)
    row, payload = _claimed(uow, c, actor, box)
    _unchanged_since_preview(uow, cluster, row)
    stored: list[ConfigVersionRow] = []
    ids = {"actor": actor, "change_id": c.change_id}
    options_changed = False
    if row.type == "config.update":
        clusters.set_options(uow, cluster, payload["options"], actor)
        options_changed = True
        if uow.memberships.count(cluster.name):
            stored.append(configs.store(uow, cluster, "cluster.yml", configs.render_cluster_yml(uow, cluster), box,
                                        comment="options changed", **ids))
    elif row.type == "config.import":
        if "cluster.yml" in payload:
            clusters.place_matched(uow, cluster, clusters.match(uow, clusters.nodes_from_cluster_yml(
                clusterconfig.validate(payload["cluster.yml"]))), actor, change_id=c.change_id)
        for kind in row.kinds:
            stored.append(configs.store(uow, cluster, kind, payload[kind], box, comment="imported", **ids))
        kubeconfig = (clusters.admin_kubeconfig(json.loads(payload["cluster.rkestate"]))
                      if "cluster.rkestate" in payload else None)
        if kubeconfig and cluster.kubeconfig_sealed is None:
            clusters.update(uow, cluster, {"kubeconfig": kubeconfig}, box, actor)
    else:
        kind, version = payload["rollback"]["kind"], int(payload["rollback"]["version"])
        old = configs.get_version(uow, cluster.name, kind, version)
        stored.append(configs.store(uow, cluster, kind, configs.plaintext(old, box), box, rollback_of=version,
                                    comment=payload["rollback"].get("comment") or f"rollback to version {version}",
                                    **ids))
    row.status, row.adopted_at = "adopted", utcnow()
    return msg.ConfigAdopted(cluster=cluster.name, change_id=c.change_id, command_id=command_id, proposal=row.id,
                             versions=[{"kind": r.kind, "version": r.version} for r in stored],
                             options_changed=options_changed)


def view(uow: UnitOfWork, name: str, proposal_id: str) -> dict[str, Any]:
    """A proposal as the API shows it: never its content, its whole (redacted) preview."""
    row = uow.proposals.get(proposal_id)
    if row is None or row.cluster != name:
        raise Missing("not-found", f"proposal {proposal_id!r} does not exist")
    return {"id": row.id, "cluster": row.cluster, "type": row.type, "kinds": row.kinds, "digest": row.digest,
            "change_id": row.change_id, "status": row.status, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(), "preview": row.preview,
            "adopted_at": row.adopted_at.isoformat() if row.adopted_at else None}


def emit(uow: UnitOfWork, event: msg.Event, c: msg.Command, command_id: str, actor: str) -> None:
    uow.emit(Envelope.of(event, source="inventory", correlation_id=c.change_id, causation_id=command_id,
                         actor=actor), aggregate=f"{event.cluster}/config")

