"""The config store (P3): numbered versions of each cluster's ``cluster.yml``,
``cluster.rkestate`` and kubeconfig — who, when, which change, content hash. Every kind
is sealed at rest and shown redacted; a cluster.yml is validated before it is stored;
a rollback stores the old content as a new version. Runs in the caller's unit of work."""
from __future__ import annotations

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Invalid, Missing
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow, ConfigVersionRow
from autorke_inventory.domain import clusterconfig, redaction
from autorke_inventory.domain.clusterconfig import ClusterSpec, NodeSpec
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

KINDS = ("cluster.yml", "cluster.rkestate", "kubeconfig")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise Missing("not-found", f"config kind {kind!r} is not one of {', '.join(KINDS)}")
    return kind


def render_cluster_yml(uow: UnitOfWork, cluster: ClusterRow, options: dict | None = None) -> str:
    """cluster.yml from the inventory: the cluster's members with their roles, labels,
    taints and SSH endpoints, validated (``invalid-cluster-config`` if it is not).
    ``options``: render with these instead of the cluster's (a proposal's preview)."""
    options = dict(cluster.options or {} if options is None else options)
    nodes, bastion = [], cluster.bastion
    for machine, member in uow.memberships.members(cluster.name):
        ssh = (machine.cmdb or {}).get("ssh") or {}
        nodes.append(NodeSpec(hostname=machine.hostname, address=ssh.get("address") or machine.ip,
                              port=int(ssh.get("port") or 22),
                              user=ssh.get("user") or "root",
                              roles=member.roles.split(","), labels=member.labels or {},
                              taints=member.taints or []))
        if bastion is None and isinstance(ssh.get("bastion"), dict):
            b = ssh["bastion"]
            bastion = {"address": b.get("address"), "port": str(b.get("port") or 22),
                       "user": "root"}
    text = clusterconfig.render(ClusterSpec(cluster.name, cluster.pod_cidr, cluster.service_cidr,
                                            bastion, options), nodes)
    clusterconfig.validate(text)
    return text


def get_version(uow: UnitOfWork, cluster: str, kind: str, version: int) -> ConfigVersionRow:
    row = uow.configs.get(cluster, kind, version)
    if row is None:
        key = f"{cluster}/{version}"
        raise Missing("not-found", f"{kind} version {key!r} does not exist")
    return row


def plaintext(row: ConfigVersionRow, box: SecretBox) -> str:
    return box.open(row.content) if row.sealed else row.content


def current_text(uow: UnitOfWork, cluster: str, kind: str, box: SecretBox) -> tuple[int | None, str]:
    """(the latest version, its content), or (None, "") when there is none yet."""
    latest = uow.configs.latest_version(cluster, kind)
    if latest is None:
        return None, ""
    return latest, plaintext(get_version(uow, cluster, kind, latest), box)


def store(uow: UnitOfWork, cluster: ClusterRow, kind: str, content: str, box: SecretBox, *,
          actor: str, change_id: str | None = None, command_id: str | None = None,
          comment: str | None = None, rollback_of: int | None = None) -> ConfigVersionRow:
    check_kind(kind)
    if kind == "cluster.yml":
        clusterconfig.validate(content)
    if not content.strip():
        raise Invalid("invalid-request", f"{kind} is empty")
    latest = uow.configs.latest_version(cluster.name, kind)
    secret = kind in redaction.SEALED_KINDS
    row = ConfigVersionRow(cluster=cluster.name, kind=kind, version=(latest or 0) + 1,
                           content=box.seal(content) if secret else content, sealed=secret,
                           content_hash=redaction.content_hash(content), change_id=change_id,
                           created_by=actor, comment=comment, rollback_of=rollback_of,
                           created_at=utcnow())
    uow.configs.add(row)  # the (cluster, kind, version) key refuses a concurrent duplicate
    uow.emit(Envelope.of(msg.ConfigVersioned(
        cluster=cluster.name, kind=kind, version=row.version, content_hash=row.content_hash,
        created_by=actor, change_id=change_id, command_id=command_id, rollback_of=rollback_of,
        content_sealed=uow.claim_large(row.content if secret else box.seal(content))),
        source="inventory", correlation_id=change_id, causation_id=command_id, actor=actor),
        aggregate=f"{cluster.name}/{kind}")
    return row
