"""Calico IP pool rules (DESIGN.md P7), as pure functions over what the cluster holds.

Writing ``crd.projectcalico.org/v1`` directly skips every check calicoctl makes, and Calico
never checks a pool against the hosts' networks or the service CIDR at all. These rules
are the ones a pool must pass before netcfg writes it: a strictly masked CIDR, a block
size in Calico's range and no larger than the pool, no overlap with a host network, the
service CIDR, a link-local range or another pool; and, once addresses are allocated from a
pool, no shrinking, re-addressing or re-blocking, and no delete until it is disabled and
empty. Every refusal is a domain error with a stable slug (:class:`Invalid` for a request
that is wrong in itself, :class:`Conflict` for one the cluster's state refuses), a message
naming the conflicting range and the offending ``field``.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from autorke_common.errors import Conflict, Invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MODES = ("Never", "Always", "CrossSubnet")
BLOCK_RANGE = {4: (20, 32), 6: (116, 128)}
DEFAULT_BLOCK = {4: 26, 6: 122}
LINK_LOCAL = {4: ipaddress.ip_network("169.254.0.0/16"), 6: ipaddress.ip_network("fe80::/10")}
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
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
    if not isinstance(name, str) or len(name) > 253 or not _NAME_RE.match(name):
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


def _check_placement(pool: Pool, cluster: ClusterNetworks, others: list[Pool]) -> None:
    net = pool.network
    reserved = LINK_LOCAL[net.version]
    if net.overlaps(reserved):
        raise Invalid("pool-overlaps-reserved", f"pool {net} overlaps the link-local range {reserved}",
                      field="cidr", conflict=str(reserved))
    for text in cluster.host_networks:
        host = ipaddress.ip_network(text, strict=False)
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
    """A changed pool. Once any address is allocated from it, its CIDR may not shrink or
    move (pods would hold addresses outside every pool) and its block size may not change;
    growing an in-use pool is refused too (Calico keeps a pool's CIDR immutable: add a
    pool instead)."""
    _check_placement(wanted, cluster, existing)
    used = [b for b in blocks_in(current.network, blocks) if b.allocated]
    in_use = sum(b.allocated for b in used)
    old, new = current.network, wanted.network
    if used and new != old:
        outside = [b.cidr for b in used if not (b.network.version == new.version
                                                 and b.network.subnet_of(new))]
        if outside or new.version != old.version:
            kind = "re-address" if not new.overlaps(old) else "shrink"
            raise Conflict("pool-in-use", f"cannot {kind} pool {current.name} from {old} to {new}: {in_use} "
                           f"addresses are allocated in {', '.join(outside) or old}", field="cidr",
                           conflict=str(old), allocated=in_use)
        raise Conflict("pool-cidr-immutable", f"pool {current.name} ({old}) has {in_use} allocated addresses; "
                       f"its CIDR cannot change to {new}: add a new pool and migrate", field="cidr",
                       conflict=str(old))
    if used and wanted.blockSize != current.blockSize:
        raise Conflict("pool-in-use", f"cannot change the block size of pool {current.name} ({old}) from "
                       f"/{current.blockSize} to /{wanted.blockSize}: {in_use} addresses are allocated",
                       field="blockSize", conflict=str(old), allocated=in_use)


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
