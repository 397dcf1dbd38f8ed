"""The ``network.flatten`` flow's decisions (DESIGN.md P8, P9), with no I/O.

A flat-network ticket moves through a fixed set of states; every move is checked here, so
the REST routes, the bus commands and the webhook all obey one machine. The plan is built
from the cluster's own node list (membership, P8: a node or route reflector that is not a
node of this cluster is refused), and a callback's answer is checked against the plan
before a human may confirm it. The two human steps are taken by an approver who is not
the requester. Refusals are domain errors with a stable slug: :class:`Forbidden` for the
four-eyes rule, :class:`Conflict` for a step the ticket's state or the cluster refuses,
:class:`Invalid` for a request or an answer that is wrong in itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autorke_common.errors import Conflict, Forbidden, Invalid

PLANNED, APPROVED, SUBMITTED = "planned", "approved", "submitted"
CALLBACK_RECEIVED, CONFIRMED, APPLIED = "callback_received", "confirmed", "applied"
FAILED, CANCELLED = "failed", "cancelled"

TRANSITIONS: dict[str, set[str]] = {
    PLANNED: {APPROVED, CANCELLED, FAILED},
    APPROVED: {SUBMITTED, FAILED},
    SUBMITTED: {CALLBACK_RECEIVED, FAILED},
    CALLBACK_RECEIVED: {CONFIRMED, FAILED, CANCELLED},
    CONFIRMED: {APPLIED, FAILED},
    APPLIED: set(),
    FAILED: {APPROVED},          # only a retryable failure (submission), see can_retry
    CANCELLED: set(),
}
RETRYABLE = {"vcalico-unavailable"}
RACK_LABELS = ("rack", "topology.autorke.io/rack")
FLAT_LABEL = "network.autorke.io/flat"
TICKET_LABEL = "network.autorke.io/ticket"
RR_LABEL = "route-reflector"
RR_ANNOTATION = "projectcalico.org/RouteReflectorClusterID"
AS_ANNOTATION = "projectcalico.org/ASNumber"


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
        for key in RACK_LABELS:
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
               facts: dict[str, NodeFacts], pool_name: str, pool_spec: dict[str, Any]) -> dict:
    """The plan a human reads: each node with its IP and rack, the racks, the route
    reflectors, the AS numbers asked for, the cluster's AS, and the pool."""
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
        if not fact.rack:
            raise Invalid("node-without-rack", f"node {name} has no 'rack' label; label it first", field="nodes")
        nodes.append({"name": name, "ip": fact.ip, "rack": fact.rack})
    racks = sorted({n["rack"] for n in nodes})
    unknown_racks = sorted(set(as_numbers) - set(racks))
    if unknown_racks:
        raise Invalid("invalid-request", f"AS numbers given for racks without nodes: {', '.join(unknown_racks)}",
                      field="as_numbers")
    for rack, asn in as_numbers.items():
        if not 1 <= asn <= 4294967294:
            raise Invalid("invalid-as-number", f"AS {asn} of rack {rack} is not a valid AS number",
                          field="as_numbers")
    return {"cluster": cluster, "cluster_as": cluster_as, "nodes": nodes, "racks": racks,
            "route_reflectors": list(route_reflectors), "as_numbers": dict(as_numbers),
            "pools": [{"name": pool_name, **pool_spec}]}


def check_answer(ticket_id: str, plan: dict[str, Any], answer: dict[str, Any] | None) -> None:
    """A callback's answer may only concern the plan's own nodes and pools (P8, P9)."""
    if not answer:
        raise Invalid("invalid-callback", f"the approved callback of ticket {ticket_id} carries no answer")
    planned = {n["name"] for n in plan["nodes"]}
    named: set[str] = set(answer.get("node_as_numbers", {}))
    named |= {rr.get("node") for rr in answer.get("route_reflectors", [])}
    for peer in answer.get("bgp_peers", []):
        named |= set(peer.get("nodes", []))
    strangers = sorted(n for n in named if n not in planned)
    if strangers:
        raise cross_cluster(plan["cluster"], strangers, "answer's node")
    cidrs = {p["cidr"] for p in plan["pools"]}
    extra = sorted({p.get("cidr") for p in answer.get("accepted_pools", [])} - cidrs)
    if extra:
        raise Invalid("invalid-callback", f"the answer accepts pools that were not asked for: {', '.join(extra)}")


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


def desired_peers(ticket_id: str, cluster: str, answer: dict[str, Any],
                  with_rrs: bool) -> list[dict[str, Any]]:
    """BGPPeer objects: one per rack to its ToR, and the node-to-RR peering."""
    peers = []
    for peer in answer.get("bgp_peers", []):
        peers.append({"name": f"{cluster}-tor-{peer['rack']}".lower(),
                      "spec": {"peerIP": peer["peer_ip"], "asNumber": int(peer["as_number"]),
                               "nodeSelector": peer["node_selector"]}})
    if with_rrs:
        peers.append({"name": f"{cluster}-rr-mesh".lower(),
                      "spec": {"nodeSelector": "all()",
                               "peerSelector": f"{RR_LABEL} == 'true'"}})
    for peer in peers:
        peer["labels"] = {TICKET_LABEL: ticket_id}
    return peers
