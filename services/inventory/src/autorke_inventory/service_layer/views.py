"""The read side: what the REST API shows, each a query function that takes a unit of
work, plus the JSON shapes. The public machine JSON (DESIGN.md section 2) folds CMDB data
and gathered facts into four facets — hardware, software, kubernetes, network. Fields may
be added, never renamed: the console and other platforms code against it.

Every list is a keyset page, ``{"items", "next_cursor"}`` (plus what the list adds beside
them: the machines' ``total``, the nodes' last ``node_status``): the cursor is the last
row's (sort key, id), so a page never skips or repeats a row while others write, and a
cursor this API did not give out for this order is refused (400 ``invalid-cursor``).
The Machines page (10,000 machines) is filtered and sorted by the database."""
from __future__ import annotations

from typing import Any

from autorke_common.errors import Forbidden, Invalid, Missing
from autorke_common.rest import Cursor, invalid_cursor, page_of
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow, ConfigVersionRow
from autorke_inventory.adapters.repository import MACHINE_SORTS, MachineQuery
from autorke_inventory.domain import profiles as documents
from autorke_inventory.domain import redaction
from autorke_inventory.domain.lifecycle import STATES
from autorke_inventory.domain.roles import ROLES
from autorke_inventory.service_layer import configs, lookups, node_status, profiles, proposals
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

CONTAINER_NETWORK_PREFIXES = ("projectcalico.org/", "calico/", "network.autorke.dev/")


def _merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (extra or {}).items():
        if value is not None:
            out[key] = value
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def node_view(membership: Any | None) -> dict[str, Any] | None:
    """A member's node as its cluster's Kubernetes API last showed it; ``status`` is
    ``Ready`` / ``NotReady`` / ``Unknown`` (never observed, or not registered)."""
    if membership is None:
        return None
    detail = getattr(membership, "node_detail", None) or {}
    observed = getattr(membership, "node_observed_at", None)
    registered = bool(detail.get("registered", True)) if observed else None
    ready = membership.node_ready if observed else None
    status = "Unknown" if not registered or ready is None else (
        "Ready" if ready == "True" else "NotReady")
    return {"name": membership.node_name, "status": status, "ready": ready,
            "registered": registered, "reason": detail.get("reason"),
            "message": detail.get("message"), "problems": list(detail.get("problems") or []),
            "kubelet_version": membership.kubelet_version,
            "unschedulable": bool(membership.node_unschedulable) if observed else None,
            "observed_at": _iso(observed), "changed_at": _iso(membership.node_changed_at)}


def machine_view(row: Any, membership: Any | None) -> dict[str, Any]:
    cmdb = row.cmdb or {}
    facts = row.facts or {}
    hw = cmdb.get("hardware") or {}
    os_ = cmdb.get("os") or {}
    net = cmdb.get("network") or {}
    ssh = cmdb.get("ssh") or {}
    roles = membership.roles.split(",") if membership and membership.roles else []
    labels = dict(membership.labels or {}) if membership else {}
    taints = list(membership.taints or []) if membership else []
    cluster = membership.cluster if membership else None
    hardware = _merge({
        "vendor": hw.get("vendor"), "model": hw.get("model"), "serial": hw.get("serial"),
        "cpu": hw.get("cpu"), "memory_gb": hw.get("memory_gb"),
        "gpu": {"model": row.gpu_model, "count": row.gpu_count,
                "memory_mb": (hw.get("gpu") or {}).get("memory_mb")},
        "disks": hw.get("disks") or [],
    }, facts.get("hardware"))
    software = _merge({
        "os": os_.get("name") or os_.get("id"), "os_version": os_.get("version"),
        "kernel": os_.get("kernel"), "container_runtime": None, "gpu_driver": None,
    }, facts.get("software"))
    node = node_view(membership)
    kubernetes = _merge({
        "cluster": cluster, "roles": roles, "labels": labels, "taints": taints,
        "member_since": membership.since.isoformat()
        if membership and membership.since else None,
    }, facts.get("kubernetes"))
    # the API's observation, not the facts script's (it probes the machine, not the API)
    kubernetes["node_condition"] = node["status"] if node else None
    kubernetes["node"] = node
    network = _merge({
        "ip": row.ip, "management_ip": net.get("management_ip"), "data_ip": net.get("data_ip"),
        "bmc_ip": net.get("bmc_ip"), "rack": row.rack, "rack_unit": net.get("rack_unit"),
        "site": row.site,
        "container_network_labels": {k: v for k, v in labels.items()
                                     if k.startswith(CONTAINER_NETWORK_PREFIXES)},
        "ssh": {"address": ssh.get("address"), "port": ssh.get("port"), "user": ssh.get("user"),
                "host_key_fingerprint": ssh.get("host_key_fingerprint"),
                "bastion": (ssh.get("bastion") or {}).get("hostname")
                if isinstance(ssh.get("bastion"), dict) else ssh.get("bastion")},
    }, facts.get("network"))
    return {
        "id": row.id, "hostname": row.hostname, "ip": row.ip, "state": row.state,
        "cluster": cluster, "roles": roles, "labels": labels, "taints": taints,
        "hardware": hardware, "software": software, "kubernetes": kubernetes,
        "network": network,
        "source": row.source, "environment": cmdb.get("environment"),
        "owner": cmdb.get("owner") or {}, "cmdb_labels": cmdb.get("labels") or {},
        "conflicts": row.conflicts or [],
        "facts_at": row.facts_at.isoformat() if row.facts_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "version": row.version,
    }


def cluster_view(row: ClusterRow, members: int | None = None) -> dict[str, Any]:
    return {"name": row.name, "provider": row.provider, "api_endpoint": row.api_endpoint,
            "has_kubeconfig": row.kubeconfig_sealed is not None,
            "join_address": row.join_address, "has_join_token": row.join_token_sealed is not None,
            "host_networks": row.host_networks, "pod_cidr": row.pod_cidr,
            "service_cidr": row.service_cidr, "bgp_as": row.bgp_as, "bastion": row.bastion,
            "options": redaction.redact_options(row.options), "created_by": row.created_by,
            "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            "version": row.version, "members": members}


def version_view(row: ConfigVersionRow) -> dict[str, Any]:
    return {"cluster": row.cluster, "kind": row.kind, "version": row.version,
            "content_hash": row.content_hash, "change_id": row.change_id,
            "created_by": row.created_by, "created_at": row.created_at.isoformat(),
            "comment": row.comment, "rollback_of": row.rollback_of, "secret": row.sealed}


def _after(token: str | None, sort: str, key_type: type) -> Cursor | None:
    """The cursor of ``token`` for the order ``sort``; its key must be of the sort
    column's type (a forged one never reaches the database)."""
    after = Cursor.decode(token, sort)
    if after is not None and (type(after.key) is not key_type):
        raise invalid_cursor("the cursor was not issued by this API")
    return after


# -- machines ------------------------------------------------------------------------------
def machines(uow: UnitOfWork, f: MachineQuery, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of machines matching ``f``, in ``f.sort`` order, with the number matching and
    how many match in each state (``f.state`` aside)."""
    if f.sort.lstrip("-") not in MACHINE_SORTS:
        raise Invalid("invalid-request", f"sort must be one of {', '.join(MACHINE_SORTS)} "
                                         "(prefix '-' for descending)", field="sort")
    if f.state and f.state not in STATES:
        raise Invalid("invalid-request", f"unknown state {f.state!r}", field="state")
    if f.role and f.role not in ROLES:
        raise Invalid("invalid-request", f"unknown role {f.role!r}", field="role")
    after = _after(cursor, f.sort, str)  # every sort key is text (NULL sorts as '')
    with uow:
        rows, total = uow.machines.page(f, after, limit)
        counts = uow.machines.state_counts(f)
        page = page_of(rows, limit, key=lambda r: (r.sort_value, r[0].id), sort=f.sort,
                       view=lambda r: machine_view(r[0], r[1]))
    return {"items": page.items, "next_cursor": page.next_cursor, "total": total, "state_counts": counts}


def machine(uow: UnitOfWork, key: str) -> dict[str, Any]:
    """One machine, by id or hostname (its ``version`` is the ETag)."""
    with uow:
        row = lookups.machine(uow, key)
        return machine_view(row, uow.memberships.get(row.id))


# -- clusters ------------------------------------------------------------------------------
def clusters(uow: UnitOfWork, limit: int, cursor: str | None) -> dict[str, Any]:
    """Clusters by name, each with its number of members."""
    after = _after(cursor, "name", str)
    with uow:
        rows = uow.clusters.page(after, limit)
        counts = uow.memberships.counts()
        page = page_of(rows, limit, key=lambda r: (r.name, r.name), sort="name",
                       view=lambda r: cluster_view(r, counts.get(r.name, 0)))
    return {"items": page.items, "next_cursor": page.next_cursor}


def cluster(uow: UnitOfWork, name: str) -> dict[str, Any]:
    with uow:
        return cluster_view(lookups.cluster(uow, name), uow.memberships.count(name))


def cluster_nodes(uow: UnitOfWork, name: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """The cluster's members by hostname, each with its node as the cluster's API last
    showed it, and the last listing asked for (``node_status``)."""
    after = _after(cursor, "hostname", str)
    with uow:
        lookups.cluster(uow, name)
        rows = uow.memberships.members(name, after, limit)
        page = page_of(rows, limit, key=lambda r: (r[0].hostname, r[0].id), sort="hostname",
                       view=lambda r: machine_view(*r))
        return {"items": page.items, "next_cursor": page.next_cursor,
                "node_status": node_status.latest_job(uow, name)}


def import_status(uow: UnitOfWork, name: str, job_id: str) -> dict[str, Any]:
    with uow:
        job = uow.jobs.get(job_id)
        if job is None or job.cluster != name or job.purpose != "import":
            raise Missing("not-found", f"import {job_id!r} does not exist")
        return {"job_id": job.job_id, "cluster": name, "status": job.status,
                "report": job.report, "created_at": job.created_at.isoformat(),
                "finished_at": job.finished_at.isoformat() if job.finished_at else None}


# -- configs -------------------------------------------------------------------------------
def rendered_cluster_yml(uow: UnitOfWork, name: str, *, reveal: bool = False, admin: bool = False
                         ) -> dict[str, Any]:
    """The cluster.yml the inventory would render now (nothing stored), redacted unless an
    admin asks to ``reveal`` it."""
    if reveal and not admin:
        raise Forbidden("forbidden", "only an admin may reveal a config's secrets")
    with uow:
        content = configs.render_cluster_yml(uow, lookups.cluster(uow, name))
    return {"cluster": name, "kind": "cluster.yml",
            "content": content if reveal else redaction.redact("cluster.yml", content),
            "content_hash": redaction.content_hash(content), "redacted": not reveal}


def proposal(uow: UnitOfWork, name: str, proposal_id: str) -> dict[str, Any]:
    with uow:
        return proposals.view(uow, name, proposal_id)


def config_versions(uow: UnitOfWork, name: str, kind: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """The versions of one kind of the cluster's configs, oldest first."""
    configs.check_kind(kind)
    after = _after(cursor, "version", int)
    with uow:
        lookups.cluster(uow, name)
        rows = uow.configs.page(name, kind, after, limit)
    page = page_of(rows, limit, key=lambda r: (r.version, r.kind), sort="version", view=version_view)
    return {"items": page.items, "next_cursor": page.next_cursor}


def config_version(uow: UnitOfWork, box: SecretBox, name: str, kind: str, version: int) -> dict[str, Any]:
    """One version with its content, redacted (an admin reads it whole through
    :func:`..handlers.reveal_config`, which leaves an audit event)."""
    configs.check_kind(kind)
    with uow:
        row = configs.get_version(uow, name, kind, version)
        text = configs.plaintext(row, box)
    return {**version_view(row), "content": redaction.redact(kind, text), "redacted": True}


def config_diff(uow: UnitOfWork, box: SecretBox, name: str, kind: str, old: int, new: int) -> dict[str, Any]:
    """The unified diff of two versions' redacted texts."""
    configs.check_kind(kind)
    with uow:
        lookups.cluster(uow, name)
        before = configs.plaintext(configs.get_version(uow, name, kind, old), box)
        after = configs.plaintext(configs.get_version(uow, name, kind, new), box)
    text = redaction.diff(kind, before, after, f"{kind}@{old}", f"{kind}@{new}")
    return {"cluster": name, "kind": kind, "from": old, "to": new, "diff": text, "redacted": True}


# -- node documents (node profiles, the label mapping) -------------------------------------
def documents_latest(uow: UnitOfWork, cluster: str, kind: str, limit: int, cursor: str | None) -> dict[str, Any]:
    """The latest version of each of the cluster's documents of ``kind``, by name, with
    their specs; the built-in ``default`` (version 0) among them while none is stored."""
    after = _after(cursor, "name", str)
    with uow:
        lookups.cluster(uow, cluster)
        items = [profiles.view(r) for r in uow.documents.latest_each(cluster, kind, after, limit)]
        if (after is None or documents.DEFAULT > after.key) and uow.documents.latest(
                cluster, kind, documents.DEFAULT) is None:
            items = sorted([*items, profiles.builtin_view(cluster, kind, documents.DEFAULT)],
                           key=lambda d: d["name"])[: limit + 1]
    page = page_of(items, limit, key=lambda d: (d["name"], d["name"]), sort="name")
    return {"items": page.items, "next_cursor": page.next_cursor}


def document(uow: UnitOfWork, cluster: str, kind: str, name: str, version: int | None) -> dict[str, Any]:
    """One version of a document with its spec (None: the latest)."""
    documents.checked_name(kind, name)
    with uow:
        lookups.cluster(uow, cluster)
        return profiles.version(uow, cluster, kind, name, version)


def document_versions(uow: UnitOfWork, cluster: str, kind: str, name: str, limit: int,
                      cursor: str | None) -> dict[str, Any]:
    """A document's versions, oldest first, without their specs; ``default`` begins with
    the built-in version 0."""
    documents.checked_name(kind, name)
    after = _after(cursor, "version", int)
    with uow:
        lookups.cluster(uow, cluster)
        items = [profiles.view(r, spec=False) for r in uow.documents.versions(cluster, kind, name, after, limit)]
    first = profiles.builtin_view(cluster, kind, name, spec=False) if after is None else None
    if first is not None:
        items = [first, *items][: limit + 1]
    elif after is None and not items:
        raise Missing("not-found", f"{kind} {name!r} of cluster {cluster!r} does not exist")
    page = page_of(items, limit, key=lambda d: (d["version"], d["name"]), sort="version")
    return {"items": page.items, "next_cursor": page.next_cursor}


def document_diff(uow: UnitOfWork, cluster: str, kind: str, name: str, old: int, new: int) -> dict[str, Any]:
    """The unified diff of two versions' specs as YAML with sorted keys (0: the built-in)."""
    documents.checked_name(kind, name)
    with uow:
        lookups.cluster(uow, cluster)
        before = profiles.version(uow, cluster, kind, name, old)["spec"]
        after = profiles.version(uow, cluster, kind, name, new)["spec"]
    return {"cluster": cluster, "kind": kind, "name": name, "from": old, "to": new,
            "diff": documents.diff(name, old, before, new, after)}
