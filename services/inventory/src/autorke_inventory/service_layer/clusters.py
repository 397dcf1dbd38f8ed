"""Clusters: registration (with its networks, sealed kubeconfig, RKE2 join address and
sealed join token, bastion and options, checked by :mod:`..domain.options`), updates
(options only through a ``config.update`` change), and the import of an existing cluster —
its files checked here, kept as a proposal and adopted by an approved ``config.import``
change (:mod:`.proposals`): its nodes matched to inventory machines, matched machines
placed as members, the rest reported (never invented). Runs in the caller's unit of work;
a refused import changes nothing.

Every kubeconfig that comes in (register, PATCH, the kube-admin config of an imported
``cluster.rkestate``) is checked against the allow-list of :mod:`autorke_common.kubeconfig`
before anything is stored: the executor and netcfg connect with it by themselves, so an
``exec`` plugin or a file path in it would run or read on their hosts (422
``unsafe-kubeconfig`` with the request field)."""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Conflict, Invalid
from autorke_common.kubeconfig import parse_kubeconfig
from autorke_common.secrets import SecretBox
from autorke_inventory.adapters.orm import ClusterRow
from autorke_inventory.domain import clusterconfig
from autorke_inventory.domain import options as cluster_options
from autorke_inventory.domain.matching import MatchResult, ObservedNode, match_nodes
from autorke_inventory.service_layer import configs, membership
from autorke_inventory.service_layer.unit_of_work import UnitOfWork

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # fullmatch
#: what a PATCH sets directly; options change only through a config.update change (H1)
EDITABLE = ("api_endpoint", "host_networks", "pod_cidr", "service_cidr", "bgp_as", "bastion",
            "join_address")


def bad(detail: str, field: str | None = None) -> Invalid:
    """``field`` names the request field at fault (a form shows the error next to it)."""
    return Invalid("invalid-request", detail, **({"field": field} if field else {}))


def _cidr(value: str, what: str, field: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise bad(f"{what} {value!r} is not a network: {exc}", field) from None


def check_fields(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "host_networks" in out:
        out["host_networks"] = [_cidr(c, "host network", "host_networks")
                                for c in out["host_networks"] or []]
    for key in ("pod_cidr", "service_cidr"):
        if key in out:
            out[key] = _cidr(out[key], key, key)
    if out.get("bgp_as") is not None and not 1 <= int(out["bgp_as"]) <= 4294967295:
        raise bad("bgp_as must be between 1 and 4294967295", "bgp_as")
    return out


def bastion_text(bastion: dict | None) -> str | None:
    return f"{bastion['address']}:{bastion.get('port') or 22}" if bastion else None


def cluster_event(row: ClusterRow, cls: type[msg.ClusterFacts]) -> msg.ClusterFacts:
    return cls(name=row.name, provider=row.provider, api_endpoint=row.api_endpoint,
               kubeconfig_sealed=row.kubeconfig_sealed, host_networks=row.host_networks,
               pod_cidr=row.pod_cidr, service_cidr=row.service_cidr, bgp_as=row.bgp_as,
               bastion=bastion_text(row.bastion), join_address=row.join_address,
               join_token_sealed=row.join_token_sealed)


def _emit(uow: UnitOfWork, event: msg.Event, actor: str, aggregate: str) -> None:
    uow.emit(Envelope.of(event, source="inventory", actor=actor), aggregate=aggregate)


def register(uow: UnitOfWork, data: dict[str, Any], box: SecretBox, actor: str) -> ClusterRow:
    name = data["name"]
    if not _NAME.fullmatch(name):
        raise bad("cluster name must be a DNS label (lowercase letters, digits, '-')", "name")
    if data["provider"] not in ("rke", "rke2"):
        raise bad("provider must be 'rke' or 'rke2'", "provider")
    if uow.clusters.get(name) is not None:
        raise Conflict("cluster-exists", f"cluster {name!r} is already registered", cluster=name,
                       field="name")
    fields = check_fields({k: data.get(k) for k in EDITABLE if k in data})
    fields["options"] = cluster_options.checked(data.get("options"))
    kubeconfig, token = data.get("kubeconfig"), data.get("join_token")
    if kubeconfig:
        parse_kubeconfig(kubeconfig, field="kubeconfig")
    now = utcnow()
    row = ClusterRow(name=name, provider=data["provider"], created_by=actor, version=1,
                     created_at=now, updated_at=now, options=fields.pop("options", None) or {},
                     host_networks=fields.pop("host_networks", None) or [],
                     kubeconfig_sealed=box.seal(kubeconfig) if kubeconfig else None,
                     join_token_sealed=box.seal(token) if token else None, **fields)
    uow.clusters.add(row)
    if kubeconfig:
        configs.store(uow, row, "kubeconfig", kubeconfig, box, actor=actor,
                      comment="registered with the cluster")
    _emit(uow, cluster_event(row, msg.ClusterRegistered), actor, name)
    return row


def update(uow: UnitOfWork, row: ClusterRow, patch: dict[str, Any], box: SecretBox,
           actor: str) -> ClusterRow:
    fields = check_fields({k: v for k, v in patch.items() if k in EDITABLE})
    if patch.get("kubeconfig"):
        parse_kubeconfig(patch["kubeconfig"], field="kubeconfig")
    for key, value in fields.items():
        setattr(row, key, value if value is not None or key in ("api_endpoint", "bgp_as", "bastion",
                                                                 "join_address") else getattr(row, key))
    if patch.get("join_token"):
        row.join_token_sealed = box.seal(patch["join_token"])
    if patch.get("kubeconfig"):
        row.kubeconfig_sealed = box.seal(patch["kubeconfig"])
        configs.store(uow, row, "kubeconfig", patch["kubeconfig"], box, actor=actor,
                      comment="cluster updated")
    row.version += 1
    row.updated_at = utcnow()
    _emit(uow, cluster_event(row, msg.ClusterUpdated), actor, row.name)
    return row


def set_options(uow: UnitOfWork, row: ClusterRow, options: dict[str, Any], actor: str) -> ClusterRow:
    """The options of an approved ``config.update`` (checked again: the schema may have
    become stricter since they were proposed)."""
    row.options = cluster_options.checked(options)
    row.version += 1
    row.updated_at = utcnow()
    _emit(uow, cluster_event(row, msg.ClusterUpdated), actor, row.name)
    return row


# -- import ----------------------------------------------------------------------------------
def nodes_from_cluster_yml(doc: dict[str, Any]) -> list[ObservedNode]:
    nodes = []
    for n in doc.get("nodes") or []:
        roles = n.get("role") or []
        addresses = [a for a in (n.get("address"), n.get("internal_address")) if a]
        nodes.append(ObservedNode(name=str(n.get("hostname_override") or n.get("address")),
                                  addresses=[str(a) for a in addresses],
                                  roles=[roles] if isinstance(roles, str) else list(roles),
                                  labels={str(k): str(v) for k, v in (n.get("labels") or {}).items()},
                                  taints=list(n.get("taints") or [])))
    return nodes


def match(uow: UnitOfWork, nodes: list[ObservedNode]) -> MatchResult:
    by_ip, by_hostname = uow.machines.addresses({a for n in nodes for a in n.addresses},
                                                {n.name for n in nodes})
    return match_nodes(nodes, by_ip, by_hostname)


def place_matched(uow: UnitOfWork, cluster: ClusterRow, result: MatchResult,
                  actor: str, change_id: str | None = None) -> list[dict[str, Any]]:
    """Members for every matched node, all or nothing (P1 refuses the whole import)."""
    placed = []
    for m in result.matched:
        machine = uow.machines.get(m.machine)
        roles = m.node.roles or ["worker"]
        membership.assign(uow, machine, cluster.name, roles, m.node.labels, m.node.taints,
                          change_id=change_id, command_id=None, actor=actor)
        if machine.state != "member":
            before, machine.state = machine.state, "member"
            machine.version += 1
            _emit(uow, msg.MachineStateChanged(machine=machine.id, hostname=machine.hostname,
                                               from_state=before, to_state="member"),
                  actor, machine.id)
        placed.append({"node": m.node.name, "machine": machine.id, "hostname": machine.hostname,
                       "by": m.by, "roles": sorted(roles)})
    return placed


def checked_import(cluster_yml: str | None, rkestate: str | None) -> dict[str, str]:
    """The files of an import from files, checked before they are kept as a proposal: a
    valid cluster.yml (``invalid-cluster-config``), an rkestate that is JSON and whose
    kube-admin kubeconfig passes the allow-list (``unsafe-kubeconfig``)."""
    if not cluster_yml and not rkestate:
        raise bad("an import from files needs cluster_yml and/or rkestate", "cluster_yml")
    payload: dict[str, str] = {}
    if cluster_yml:
        clusterconfig.validate(cluster_yml)
        payload["cluster.yml"] = cluster_yml
    if rkestate is not None:
        try:
            state = json.loads(rkestate)
        except ValueError:
            raise bad("cluster.rkestate is not JSON", "rkestate") from None
        admin_kubeconfig(state)
        payload["cluster.rkestate"] = rkestate
    return payload


def admin_kubeconfig(state: Any) -> str | None:
    """The kube-admin kubeconfig of the current state, checked against the allow-list: the
    desired state's is checked too (it becomes the current one at the next ``rke up``). The
    other components' configs name files on the nodes and are never used here."""
    current = None
    for which in ("desiredState", "currentState"):
        try:
            config = state[which]["certificatesBundle"]["kube-admin"]["config"]
        except (KeyError, TypeError):
            continue
        if config is None or config == "":
            continue
        if not isinstance(config, str):
            raise Invalid("unsafe-kubeconfig", f"kubeconfig refused at {which}.certificatesBundle.kube-admin"
                          ".config: it is not text", field="rkestate")
        parse_kubeconfig(config, field="rkestate")
        current = config if which == "currentState" else current
    return current

