"""Calico IP pool rules (DESIGN.md P7), as pure functions over what the cluster holds.

Writing ``crd.projectcalico.org/v1`` directly skips every check calicoctl makes, and Calico
never checks a pool against the hosts' networks or the service CIDR at all. These rules
are the ones a pool must pass before netcfg writes it: a strictly masked CIDR, a block
size in Calico's range and no larger than the pool, no overlap with a host network, the
service CIDR, the pod CIDR (the cluster's own default pool), a reserved range (link-local,
loopback, multicast, ``0.0.0.0/8``, ``240.0.0.0/4``) or another pool; a CIDR and a block
size that never change once the pool exists (Calico's own rule, which the CRD skips); and
no delete until the pool is disabled and empty.

The host networks are the ones the inventory declares for the cluster plus the address of
every node the cluster reports (a /32 or /128 each, read live): so the host-network rule
always has data, even for a cluster registered without ``host_networks``; with neither,
a pool is refused (``host-networks-unknown``) rather than checked against nothing.

Every refusal is a domain error with a stable slug (:class:`Invalid` for a request that is
wrong in itself, :class:`Conflict` for one the cluster's state refuses), a message
naming the conflicting range and the offending ``field``.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from autorke_common.errors import Conflict, Invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MODES = ("Never", "Always", "CrossSubnet")
BLOCK_RANGE = {4: (20, 32), 6: (116, 128)}
DEFAULT_BLOCK = {4: 26, 6: 122}
#: Ranges no pod address may come from: link-local, loopback, multicast, "this network"
#: (0.0.0.0/8) and the reserved class E (240.0.0.0/4, with the broadcast address).
RESERVED = {
    4: tuple((ipaddress.ip_network(c), what) for c, what in (
        ("169.254.0.0/16", "the link-local range"), ("127.0.0.0/8", "the loopback range"),
        ("224.0.0.0/4", "the multicast range"), ("0.0.0.0/8", "the 'this network' range"),
        ("240.0.0.0/4", "the reserved range"))),
    6: tuple((ipaddress.ip_network(c), what) for c, what in (
        ("fe80::/10", "the link-local range"), ("::1/128", "the loopback address"),
        ("ff00::/8", "the multicast range"), ("::/128", "the unspecified address"))),
}
#: Fixed once the pool exists (Calico: "IPPool CIDR cannot be modified", "IPPool
#: BlockSize cannot be modified"): add a pool and migrate instead.
IMMUTABLE = ("cidr", "blockSize")
_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")  # fullmatch
SPEC_FIELDS = ("cidr", "blockSize", "ipipMode", "vxlanMode", "natOutgoing", "disabled",
               "nodeSelector", "disableBGPExport")


@dataclass(frozen=True)
class Pool:
    """A pool as Calico stores it (spec field names as in the CRD)."""

    name: str
    cidr: str
    blockSize: int
    ipipMode: str = "Never"
    vxlanMode: str = "Never"
    natOutgoing: bool = False
    disabled: bool = False
    nodeSelector: str = "all()"
    disableBGPExport: bool = False

    @cached_property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr)

    def spec(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in SPEC_FIELDS}

    @classmethod
    def from_resource(cls, obj: dict[str, Any]) -> Pool:
        spec = obj.get("spec") or {}
        net = ipaddress.ip_network(spec["cidr"], strict=False)
        return cls(name=obj["metadata"]["name"], cidr=str(net),
                   blockSize=int(spec.get("blockSize") or DEFAULT_BLOCK[net.version]),
                   ipipMode=spec.get("ipipMode") or "Never",
                   vxlanMode=spec.get("vxlanMode") or "Never",
                   natOutgoing=bool(spec.get("natOutgoing", False)),
                   disabled=bool(spec.get("disabled", False)),
                   nodeSelector=spec.get("nodeSelector") or "all()",
                   disableBGPExport=bool(spec.get("disableBGPExport", False)))


@dataclass(frozen=True)
class Block:
    """An IPAM block (``ipamblocks``): its CIDR and how many addresses are allocated."""

    cidr: str
    allocated: int

    @cached_property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.cidr, strict=False)

    @classmethod
    def from_resource(cls, obj: dict[str, Any]) -> Block:
        spec = obj.get("spec") or {}
        allocations = spec.get("allocations") or []
        return cls(cidr=spec["cidr"], allocated=sum(1 for a in allocations if a is not None))


@dataclass(frozen=True)
class ClusterNetworks:
    """The cluster's facts the rules check against (from inventory)."""

    name: str
    host_networks: tuple[str, ...] = ()
    service_cidr: str | None = None
    pod_cidr: str | None = None
    #: every node's own address, as the cluster reports it now (``with_nodes``)
    node_addresses: tuple[str, ...] = ()

    def with_nodes(self, nodes: list[dict[str, Any]]) -> ClusterNetworks:
        """These facts with the addresses of ``nodes`` (Kubernetes Node objects)."""
        found = []
        for node in nodes:
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("type") in ("InternalIP", "ExternalIP"):
                    try:
                        found.append(str(ipaddress.ip_address(a.get("address"))))
                    except ValueError:
                        continue
        return replace(self, node_addresses=tuple(sorted(set(found))))

    def hosts(self) -> list[IPNetwork]:
        """The host networks the rule checks: the declared ones and each node's address."""
        declared = [ipaddress.ip_network(t, strict=False) for t in self.host_networks]
        return declared + [ipaddress.ip_network(a) for a in self.node_addresses]


@dataclass
class Usage:
    blocks: list[Block] = field(default_factory=list)

    @property
    def allocated(self) -> int:
        return sum(b.allocated for b in self.blocks)


def parse_cidr(text: Any, field_: str = "cidr") -> IPNetwork:
    """A strictly masked, canonical CIDR, or ``invalid-cidr``."""
    if not isinstance(text, str) or "/" not in text:
        raise Invalid("invalid-cidr", f"{text!r} is not a CIDR (address/prefix)", field=field_)
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise Invalid("invalid-cidr", f"{text!r} is not a valid CIDR: {exc}", field=field_) from None
        raise Invalid("invalid-cidr", f"{text!r} has host bits set; the network is {loose}", field=field_,
                      suggestion=str(loose)) from None
    if str(net) != text:
        raise Invalid("invalid-cidr", f"{text!r} is not in canonical form; write {net}", field=field_,
                      suggestion=str(net))
    return net


def check_name(name: str) -> None:
    if not isinstance(name, str) or len(name) > 253 or not _NAME_RE.fullmatch(name):
        raise Invalid("invalid-pool-name", f"{name!r} is not a lowercase RFC 1123 name", field="name")


def normalise(name: str, spec: dict[str, Any]) -> Pool:
    """Parse and check a requested pool on its own (no cluster context)."""
    check_name(name)
    net = parse_cidr(spec.get("cidr"))
    block = spec.get("blockSize")
    block = DEFAULT_BLOCK[net.version] if block is None else block
    low, high = BLOCK_RANGE[net.version]
    if not isinstance(block, int) or isinstance(block, bool) or not low <= block <= high:
        raise Invalid("invalid-block-size", f"block size {block!r} is outside Calico's IPv{net.version} range "
                      f"{low}-{high} (pool {net})", field="blockSize")
    if net.prefixlen > block:
        raise Invalid("invalid-block-size", f"a /{block} block is larger than the pool {net} itself",
                      field="blockSize")
    for mode_field in ("ipipMode", "vxlanMode"):
        if spec.get(mode_field, "Never") not in MODES:
            raise Invalid("invalid-encapsulation", f"{mode_field} must be one of {', '.join(MODES)}",
                          field=mode_field)
    ipip, vxlan = spec.get("ipipMode", "Never"), spec.get("vxlanMode", "Never")
    if ipip != "Never" and vxlan != "Never":
        raise Invalid("invalid-encapsulation", f"IPIP and VXLAN cannot both be on for pool {net}",
                      field="vxlanMode")
    if net.version == 6 and ipip != "Never":
        raise Invalid("invalid-encapsulation", f"IPIP is not supported on the IPv6 pool {net}",
                      field="ipipMode")
    selector = spec.get("nodeSelector") or "all()"
    if not isinstance(selector, str) or len(selector) > 1024:
        raise Invalid("invalid-node-selector", "nodeSelector must be a Calico selector string",
                      field="nodeSelector")
    return Pool(name=name, cidr=str(net), blockSize=block, ipipMode=ipip, vxlanMode=vxlan,
                natOutgoing=bool(spec.get("natOutgoing", False)),
                disabled=bool(spec.get("disabled", False)), nodeSelector=selector,
                disableBGPExport=bool(spec.get("disableBGPExport", False)))


def _check_placement(pool: Pool, cluster: ClusterNetworks, others: list[Pool], *,
                     new: bool = True) -> None:
    """Where the pool may lie. ``new``: a pool being created (the pod CIDR is then the
    cluster's own default pool's, never another's)."""
    net = pool.network
    for reserved, what in RESERVED[net.version]:
        if net.overlaps(reserved):
            raise Invalid("pool-overlaps-reserved", f"pool {net} overlaps {what} {reserved}",
                          field="cidr", conflict=str(reserved))
    hosts = cluster.hosts()
    if not hosts:
        raise Conflict("host-networks-unknown", f"cluster {cluster.name} declares no host networks and "
                       "reports no node address: a pool cannot be checked against the hosts' networks; "
                       "register the cluster's host_networks first", field="cidr")
    for host in hosts:
        if host.version == net.version and net.overlaps(host):
            raise Conflict("pool-overlaps-host-network",
                           f"pool {net} overlaps the host network {host} of cluster {cluster.name}",
                           field="cidr", conflict=str(host))
    if cluster.service_cidr:
        svc = ipaddress.ip_network(cluster.service_cidr, strict=False)
        if svc.version == net.version and net.overlaps(svc):
            raise Conflict("pool-overlaps-service-cidr",
                           f"pool {net} overlaps the service CIDR {svc} of cluster {cluster.name}",
                           field="cidr", conflict=str(svc))
    if new and cluster.pod_cidr:
        pods = ipaddress.ip_network(cluster.pod_cidr, strict=False)
        if pods.version == net.version and net.overlaps(pods):
            raise Conflict("pool-overlaps-pod-cidr",
                           f"pool {net} overlaps the pod CIDR {pods} of cluster {cluster.name}: that "
                           "range is the cluster's default pool (cluster-cidr), not a new pool's",
                           field="cidr", conflict=str(pods))
    for other in others:
        if other.name != pool.name and other.network.version == net.version \
                and net.overlaps(other.network):
            raise Conflict("pool-overlaps-pool", f"pool {net} overlaps pool {other.name} ({other.cidr})",
                           field="cidr", conflict=other.cidr, conflicting_pool=other.name)


def blocks_in(net: IPNetwork, blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.network.version == net.version and b.network.overlaps(net)]


def check_create(pool: Pool, cluster: ClusterNetworks, existing: list[Pool],
                 blocks: list[Block]) -> None:
    """A new pool: placement, and no IPAM blocks of another size in its range."""
    if any(p.name == pool.name for p in existing):
        raise Conflict("pool-exists", f"pool {pool.name} already exists in cluster {cluster.name}",
                       field="name")
    _check_placement(pool, cluster, existing)
    for block in blocks_in(pool.network, blocks):
        if block.network.prefixlen != pool.blockSize:
            raise Conflict("invalid-block-size", f"existing IPAM block {block.cidr} in {pool.cidr} is a "
                           f"/{block.network.prefixlen}, not a /{pool.blockSize}", field="blockSize",
                           conflict=block.cidr)


def check_update(current: Pool, wanted: Pool, cluster: ClusterNetworks, existing: list[Pool],
                 blocks: list[Block]) -> None:
    """A changed pool: its CIDR and block size stay as they are (``immutable-field``, in use
    or not: Calico refuses both changes, and a pod may hold an address from the old range
    at any moment), and it still lies where a pool may."""
    for name in IMMUTABLE:
        old, new = getattr(current, name), getattr(wanted, name)
        if old != new:
            raise Invalid("immutable-field", f"the {name} of pool {current.name} cannot change "
                          f"({old} to {new}): add a new pool, migrate the pods, then delete this one",
                          field=name, current=old)
    _check_placement(wanted, cluster, existing, new=False)


def check_delete(pool: Pool, blocks: list[Block]) -> None:
    """Deleting a pool pods got addresses from: only once it is disabled and empty."""
    mine = blocks_in(pool.network, blocks)
    allocated = sum(b.allocated for b in mine)
    if allocated:
        raise Conflict("pool-in-use", f"pool {pool.name} ({pool.cidr}) still has {allocated} allocated addresses "
                       f"in {', '.join(b.cidr for b in mine if b.allocated)}; disable it, move the "
                       f"pods, then delete it", field="cidr", conflict=pool.cidr, allocated=allocated)
    if mine and not pool.disabled:
        raise Conflict("pool-not-disabled", f"pool {pool.name} ({pool.cidr}) has IPAM blocks; disable it before "
                       f"deleting it", field="disabled", conflict=pool.cidr)


def differences(recorded: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """Field-by-field drift between netcfg's record and the cluster's spec."""
    out = {}
    for f in SPEC_FIELDS:
        if recorded.get(f) != actual.get(f):
            out[f] = {"recorded": recorded.get(f), "actual": actual.get(f)}
    return out
