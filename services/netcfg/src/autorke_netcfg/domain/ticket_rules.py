"""The ``network.flatten`` flow's decisions (DESIGN.md P8, P9), with no I/O.

A flat-network ticket moves through a fixed set of states; every move is checked here, so
the REST routes, the bus commands and the webhook all obey one machine. The plan is built
from the cluster's own node list (membership, P8: a node or route reflector that is not a
node of this cluster is refused), and a callback's answer is checked against the plan
before a human may confirm it: every node it names is one of the plan's, every ToR peer
is for a planned rack and covers exactly that rack's planned nodes, at a unicast address
inside the cluster's host networks with a valid AS number, and every route reflector is
one the plan asked for. What is applied is then built from the plan, never from the
answer's free text: a peer's ``nodeSelector`` selects the rack's planned nodes by the
labels netcfg itself writes on them (VCalico's ``node_selector`` is ignored). The two
human steps are taken by an approver who is not the requester (compared by the stable
identity, :mod:`autorke_common.auth`). Refusals are domain errors with a stable slug:
:class:`Forbidden` for the four-eyes rule, :class:`Conflict` for a step the ticket's state
or the cluster refuses, :class:`Invalid` for a request or an answer that is wrong in itself.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autorke_common.errors import Conflict, Forbidden, Invalid

PLANNED, APPROVED, SUBMITTED = "planned", "approved", "submitted"
CALLBACK_RECEIVED, CONFIRMED, APPLIED = "callback_received", "confirmed", "applied"
FAILED, CANCELLED, REVERTED = "failed", "cancelled", "reverted"

TRANSITIONS: dict[str, set[str]] = {
    PLANNED: {APPROVED, CANCELLED, FAILED},
    # a submission in flight records its outcome only while the ticket is approved, and a
    # callback for a ticket no longer submitted is ignored: both may be cancelled
    APPROVED: {SUBMITTED, FAILED, CANCELLED},
    SUBMITTED: {CALLBACK_RECEIVED, FAILED, CANCELLED},
    CALLBACK_RECEIVED: {CONFIRMED, FAILED, CANCELLED},
    CONFIRMED: {APPLIED, FAILED},
    APPLIED: {REVERTED},         # the compensation of a node.add's network steps
    FAILED: {APPROVED},          # only a retryable failure (submission), see can_retry
    CANCELLED: set(),
    REVERTED: set(),
}
#: the states a ticket is cancelled from (nothing applied yet), and those it ends in
OPEN = (PLANNED, APPROVED, SUBMITTED, CALLBACK_RECEIVED)
ENDED = (FAILED, CANCELLED, REVERTED)
RETRYABLE = {"vcalico-unavailable"}
RACK_LABELS = ("rack", "topology.autorke.io/rack")
FLAT_LABEL = "network.autorke.io/flat"
TICKET_LABEL = "network.autorke.io/ticket"
RR_LABEL = "route-reflector"
RR_ANNOTATION = "projectcalico.org/RouteReflectorClusterID"
AS_ANNOTATION = "projectcalico.org/ASNumber"
MAX_AS = 4294967294
LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")   # a Kubernetes label value


def illegal(ticket_id: str, status: str, action: str) -> Conflict:
    return Conflict("illegal-state-transition", f"ticket {ticket_id} is {status}; it cannot be {action}",
                    status_now=status)


def transition(ticket_id: str, status: str, to: str, action: str) -> str:
    if to not in TRANSITIONS.get(status, set()):
        raise illegal(ticket_id, status, action)
    return to


def check_not_requester(ticket_id: str, requested_by: str, actor: str, step: str) -> None:
    if actor == requested_by:
        raise Forbidden("self-approval", f"{actor} requested ticket {ticket_id} and cannot {step} it; another "
                        f"approver must", step=step)


def check_can_confirm(ticket_id: str, status: str) -> None:
    if status in (PLANNED, APPROVED, SUBMITTED):
        raise Conflict("confirmation-before-callback", f"ticket {ticket_id} is {status}: no VCalico callback "
                       f"has arrived yet, so there is nothing to confirm", status_now=status)
    if status != CALLBACK_RECEIVED:
        raise illegal(ticket_id, status, "confirmed")


def can_retry(status: str, failure_reason: str | None) -> bool:
    return status == FAILED and failure_reason in RETRYABLE


def check_can_retry(ticket_id: str, status: str, failure_reason: str | None) -> None:
    """Only a failed submission is sent again; anything else failed for good."""
    if not can_retry(status, failure_reason):
        raise Conflict("not-retryable", f"ticket {ticket_id} is {status}"
                       + (f" ({failure_reason})" if failure_reason else "")
                       + "; only a failed submission can be retried", status_now=status)


@dataclass(frozen=True)
class NodeFacts:
    """A node as the cluster's API reports it."""

    name: str
    ip: str | None
    labels: dict[str, str]

    @property
    def rack(self) -> str | None:
        return self.rack_from(None)

    def rack_from(self, label: str | None) -> str | None:
        """The node's rack: from ``label`` when given, else from the first of :data:`RACK_LABELS`."""
        for key in (label,) if label else RACK_LABELS:
            if self.labels.get(key):
                return self.labels[key]
        return None

    @classmethod
    def from_resource(cls, obj: Any) -> NodeFacts:
        meta, status = obj["metadata"], obj.get("status") or {}
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        return cls(meta["name"], addresses.get("InternalIP") or addresses.get("ExternalIP"),
                   dict(meta.get("labels") or {}))


def cross_cluster(cluster: str, names: list[str], role: str) -> Conflict:
    return Conflict("cross-cluster-peering",
                    f"{role} {', '.join(names)} {'is' if len(names) == 1 else 'are'} not a node "
                    f"of cluster {cluster}; a node can only be peered within its own cluster",
                    field="route_reflectors" if role.startswith("route") else "nodes", nodes=names)


def check_membership(cluster: str, nodes: list[str], route_reflectors: list[str],
                     members: set[str]) -> None:
    """P8: every node and route reflector of the ticket is a node of this cluster."""
    strangers = [n for n in nodes if n not in members]
    if strangers:
        raise cross_cluster(cluster, strangers, "node")
    rr_strangers = [n for n in route_reflectors if n not in members]
    if rr_strangers:
        raise cross_cluster(cluster, rr_strangers, "route reflector")
    outside = [n for n in route_reflectors if n not in nodes]
    if outside:
        raise Invalid("route-reflector-not-in-plan", f"route reflector {', '.join(outside)} must also be one of "
                      f"the ticket's nodes", field="route_reflectors")


def build_plan(cluster: str, cluster_as: int | None, node_names: list[str],
               route_reflectors: list[str], as_numbers: dict[str, int],
               facts: dict[str, NodeFacts], pool_name: str, pool_spec: dict[str, Any],
               rack_label: str | None = None) -> dict:
    """The plan a human reads: each node with its IP and rack (read from ``rack_label``
    when given, see :meth:`NodeFacts.rack_from`), the racks, the route reflectors, the AS
    numbers asked for, the cluster's AS, and the pool."""
    if not node_names:
        raise Invalid("invalid-request", "a ticket needs nodes", field="nodes")
    if len(set(node_names)) != len(node_names):
        raise Invalid("invalid-request", "a node is named twice", field="nodes")
    check_membership(cluster, node_names, route_reflectors, set(facts))
    nodes = []
    for name in node_names:
        fact = facts[name]
        if not fact.ip:
            raise Invalid("node-without-address", f"node {name} reports no InternalIP", field="nodes")
        rack = fact.rack_from(rack_label)
        if not rack:
            raise Invalid("node-without-rack", f"node {name} has no '{rack_label or 'rack'}' label; label it first",
                          field="nodes", label=rack_label or "rack")
        nodes.append({"name": name, "ip": fact.ip, "rack": rack})
    racks = sorted({n["rack"] for n in nodes})
    unknown_racks = sorted(set(as_numbers) - set(racks))
    if unknown_racks:
        raise Invalid("invalid-request", f"AS numbers given for racks without nodes: {', '.join(unknown_racks)}",
                      field="as_numbers")
    for rack, asn in as_numbers.items():
        if not _is_as(asn):
            raise Invalid("invalid-as-number", f"AS {asn} of rack {rack} is not a valid AS number",
                          field="as_numbers")
    plan = {"cluster": cluster, "cluster_as": cluster_as, "nodes": nodes, "racks": racks,
            "route_reflectors": list(route_reflectors), "as_numbers": dict(as_numbers),
            "pools": [{"name": pool_name, **pool_spec}]}
    if rack_label:
        plan["rack_label"] = rack_label
    return plan


def _is_as(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_AS


def bad_answer(ticket_id: str, why: str) -> Invalid:
    return Invalid("invalid-callback", f"the answer to ticket {ticket_id} is refused: {why}")


def _list_of(ticket_id: str, answer: dict[str, Any], key: str, kind: type) -> list[Any]:
    value = answer.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise bad_answer(ticket_id, f"{key} must be a list of {kind.__name__}s")
    return value


def check_answer(ticket_id: str, plan: dict[str, Any], answer: dict[str, Any] | None,
                 host_networks: Sequence[str] = ()) -> None:
    """A callback's answer may only concern the plan's own nodes and pools (P8, P9), and
    only peer them with a ToR inside the cluster's ``host_networks``."""
    if not answer:
        raise Invalid("invalid-callback", f"the approved callback of ticket {ticket_id} carries no answer")
    if not isinstance(answer, dict):
        raise bad_answer(ticket_id, "it is not an object")
    peers = _list_of(ticket_id, answer, "bgp_peers", dict)
    rrs = _list_of(ticket_id, answer, "route_reflectors", dict)
    pools = _list_of(ticket_id, answer, "accepted_pools", dict)
    node_as = answer.get("node_as_numbers", {})
    if not isinstance(node_as, dict):
        raise bad_answer(ticket_id, "node_as_numbers must be an object")
    planned = {n["name"]: n for n in plan["nodes"]}
    named: set[Any] = set(node_as)
    named |= {rr.get("node") for rr in rrs}
    for peer in peers:
        nodes = peer.get("nodes", [])
        if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
            raise bad_answer(ticket_id, "a peer's nodes must be a list of node names")
        named |= set(nodes)
    strangers = sorted(str(n) for n in named if n not in planned)
    if strangers:
        raise cross_cluster(plan["cluster"], strangers, "answer's node")
    cidrs = {p["cidr"] for p in plan["pools"]}
    extra = sorted({str(p.get("cidr")) for p in pools} - cidrs)
    if extra:
        raise Invalid("invalid-callback", f"the answer accepts pools that were not asked for: {', '.join(extra)}")
    for name, asn in node_as.items():
        if not _is_as(asn):
            raise bad_answer(ticket_id, f"node {name} has no valid AS number ({asn!r})")
    wanted_rrs = set(plan.get("route_reflectors", []))
    for rr in rrs:
        if rr.get("node") not in wanted_rrs:
            raise bad_answer(ticket_id, f"node {rr.get('node')} was not asked to be a route reflector")
        if not _is_ipv4(rr.get("cluster_id")):
            raise bad_answer(ticket_id, f"route reflector {rr.get('node')} has no IPv4 cluster id")
    _check_peers(ticket_id, plan, peers, host_networks)


def _is_ipv4(value: Any) -> bool:
    try:
        return isinstance(value, str) and isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    except ValueError:
        return False


def _rack_nodes(plan: dict[str, Any]) -> dict[str, set[str]]:
    racks: dict[str, set[str]] = {}
    for node in plan["nodes"]:
        racks.setdefault(node["rack"], set()).add(node["name"])
    return racks


def _check_peers(ticket_id: str, plan: dict[str, Any], peers: list[dict[str, Any]],
                 host_networks: Sequence[str]) -> None:
    """Each ToR peer: a planned rack (once), exactly that rack's planned nodes, the AS the
    plan asked for (if any), and a unicast address in a host network that is not a node's."""
    racks = _rack_nodes(plan)
    node_ips = {n["ip"] for n in plan["nodes"]}
    nets = [ipaddress.ip_network(c, strict=False) for c in host_networks]
    seen: set[str] = set()
    for peer in peers:
        rack = peer.get("rack")
        if not isinstance(rack, str) or rack not in racks:
            raise bad_answer(ticket_id, f"a peer is for rack {rack!r}, which has no planned node")
        if rack in seen:
            raise bad_answer(ticket_id, f"rack {rack} has two peers")
        seen.add(rack)
        if set(peer.get("nodes", [])) != racks[rack]:
            raise bad_answer(ticket_id, f"the peer of rack {rack} must cover exactly its planned nodes "
                                        f"({', '.join(sorted(racks[rack]))})")
        asn = peer.get("as_number")
        if not _is_as(asn):
            raise bad_answer(ticket_id, f"the peer of rack {rack} has no valid AS number ({asn!r})")
        asked = plan.get("as_numbers", {}).get(rack)
        if asked is not None and asn != asked:
            raise bad_answer(ticket_id, f"the peer of rack {rack} has AS {asn}, the plan asked for {asked}")
        _check_peer_ip(ticket_id, rack, peer.get("peer_ip"), node_ips, nets)


def _check_peer_ip(ticket_id: str, rack: str, raw: Any, node_ips: set[str],
                   nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
    try:
        ip = ipaddress.ip_address(raw) if isinstance(raw, str) else None
    except ValueError:
        ip = None
    if ip is None:
        raise bad_answer(ticket_id, f"the peer of rack {rack} has no valid IP address ({raw!r})")
    # Loopback is not refused here: the host networks decide (a lab on 127.x registers them so).
    if ip.is_multicast or ip.is_unspecified or ip.is_link_local or ip.is_reserved:
        raise bad_answer(ticket_id, f"the peer of rack {rack} at {ip} is not a unicast address")
    if str(ip) in node_ips:
        raise bad_answer(ticket_id, f"the peer of rack {rack} at {ip} is one of the ticket's nodes")
    if not nets:
        raise bad_answer(ticket_id, f"the cluster's host networks are unknown, so the peer of rack {rack} "
                                    f"at {ip} cannot be checked; register them with the cluster")
    if not any(ip.version == net.version and ip in net for net in nets):
        raise bad_answer(ticket_id, f"the peer of rack {rack} at {ip} is outside the cluster's host "
                                    f"networks ({', '.join(str(n) for n in nets)})")


def peer_node_selector(ticket_id: str, rack: str) -> str:
    """The Calico selector of a rack's planned nodes: the ticket and rack labels netcfg
    writes on exactly those nodes (:func:`desired_node_state`)."""
    for value in (ticket_id, rack):
        if not LABEL_VALUE.fullmatch(value):
            raise Invalid("invalid-callback", f"{value!r} cannot be used in a node selector")
    return f"{TICKET_LABEL} == '{ticket_id}' && rack == '{rack}'"


def desired_node_state(ticket_id: str, plan: dict[str, Any],
                       answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per node, the labels and annotations the apply step writes."""
    rr_ids = {rr["node"]: rr["cluster_id"] for rr in answer.get("route_reflectors", [])}
    node_as = answer.get("node_as_numbers", {})
    out: dict[str, dict[str, Any]] = {}
    for node in plan["nodes"]:
        name = node["name"]
        labels = {FLAT_LABEL: "true", TICKET_LABEL: ticket_id, "rack": node["rack"]}
        annotations: dict[str, str] = {}
        if name in node_as:
            annotations[AS_ANNOTATION] = str(node_as[name])
        if name in rr_ids:
            labels[RR_LABEL] = "true"
            annotations[RR_ANNOTATION] = rr_ids[name]
        out[name] = {"labels": labels, "annotations": annotations}
    return out


def desired_peers(ticket_id: str, cluster: str, plan: dict[str, Any], answer: dict[str, Any],
                  with_rrs: bool) -> list[dict[str, Any]]:
    """BGPPeer objects: one per rack to its ToR, and the node-to-RR peering. Built from the
    plan's racks and the answer's checked address and AS (:func:`check_answer`); the
    answer's own ``node_selector`` is never used."""
    racks = _rack_nodes(plan)
    peers = []
    for peer in answer.get("bgp_peers", []):
        rack = peer["rack"]
        if rack not in racks:
            raise bad_answer(ticket_id, f"a peer is for rack {rack!r}, which has no planned node")
        peers.append({"name": f"{cluster}-tor-{rack}".lower(),
                      "spec": {"peerIP": str(ipaddress.ip_address(peer["peer_ip"])),
                               "asNumber": int(peer["as_number"]),
                               "nodeSelector": peer_node_selector(ticket_id, rack)}})
    if with_rrs:
        peers.append({"name": f"{cluster}-rr-mesh".lower(),
                      "spec": {"nodeSelector": "all()",
                               "peerSelector": f"{RR_LABEL} == 'true'"}})
    for peer in peers:
        peer["labels"] = {TICKET_LABEL: ticket_id}
    return peers
