"""Matching the nodes of an existing cluster to inventory machines, by IP and hostname.

A node matches a machine when one of its addresses is the machine's IP (or SSH address)
and its name, if it names a machine at all, names the same one. A node whose address and
name point at two different machines is *ambiguous*; a node that points at nothing is
*unmatched*. Both are reported, never invented: the inventory only records machines the
CMDB knows."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObservedNode:
    """A node as the cluster shows it (from cluster.yml or the Kubernetes API)."""

    name: str
    addresses: list[str]
    roles: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Match:
    node: ObservedNode
    machine: str
    by: str  # "ip+hostname", "ip" or "hostname"


@dataclass(frozen=True)
class Unmatched:
    node: ObservedNode
    reason: str

    def to_dict(self) -> dict:
        return {"node": self.node.name, "addresses": self.node.addresses, "reason": self.reason}


@dataclass
class MatchResult:
    matched: list[Match] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)


def match_nodes(nodes: list[ObservedNode], by_ip: dict[str, str],
                by_hostname: dict[str, str]) -> MatchResult:
    """``by_ip`` / ``by_hostname`` map addresses and hostnames to machine ids."""
    result = MatchResult()
    claimed: dict[str, str] = {}
    for node in nodes:
        ip_hits = {by_ip[a] for a in node.addresses if a in by_ip}
        name_hit = by_hostname.get(node.name)
        if len(ip_hits) > 1:
            result.unmatched.append(Unmatched(node, f"addresses match several machines: "
                                                    f"{', '.join(sorted(ip_hits))}"))
            continue
        ip_hit = next(iter(ip_hits), None)
        if ip_hit and name_hit and ip_hit != name_hit:
            result.unmatched.append(Unmatched(
                node, f"address matches machine {ip_hit} but name matches machine {name_hit}"))
            continue
        machine = ip_hit or name_hit
        if machine is None:
            result.unmatched.append(Unmatched(node, "no machine in the inventory has this "
                                                    "address or hostname"))
            continue
        if machine in claimed:
            result.unmatched.append(Unmatched(node, f"machine {machine} is already matched "
                                                    f"to node {claimed[machine]}"))
            continue
        claimed[machine] = node.name
        by = "ip+hostname" if ip_hit and name_hit else ("ip" if ip_hit else "hostname")
        result.matched.append(Match(node, machine, by))
    return result
