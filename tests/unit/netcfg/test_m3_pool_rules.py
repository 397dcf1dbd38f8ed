"""M3 (security review 2026-12): the pool rules the review found missing. Reserved ranges
(loopback, multicast, 0.0.0.0/8, 240.0.0.0/4) and the pod CIDR are refused as a new
pool's range; the host-network rule always has data (the cluster's nodes' own addresses
when the inventory declares no host networks) and refuses to check against nothing."""
from __future__ import annotations

import pytest

from autorke_common.errors import DomainError
from autorke_netcfg.domain import pool_changes, pool_rules
from autorke_netcfg.domain.pool_rules import ClusterNetworks, Pool

NETS = ClusterNetworks("c1", ("10.20.0.0/16",), "10.43.0.0/16", "10.42.0.0/16")


def refusal(fn, *args) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args)
    return caught.value


def node(ip: str) -> dict:
    return {"metadata": {"name": ip}, "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                                               {"type": "Hostname", "address": "n"}]}}


@pytest.mark.parametrize("cidr,conflict", [
    ("127.0.0.0/16", "127.0.0.0/8"), ("224.1.0.0/16", "224.0.0.0/4"), ("0.0.0.0/16", "0.0.0.0/8"),
    ("240.0.0.0/8", "240.0.0.0/4"), ("255.255.255.0/24", "240.0.0.0/4"), ("ff02::/16", "ff00::/8"),
    ("169.254.1.0/24", "169.254.0.0/16"),
])
def test_m3_reserved_ranges_are_refused_as_pool_cidrs(cidr, conflict):
    p = refusal(pool_rules.check_create, pool_rules.normalise("r", {"cidr": cidr}), NETS, [], [])
    assert p.slug == "pool-overlaps-reserved" and p.extensions["conflict"] == conflict
    assert p.extensions["field"] == "cidr"


@pytest.mark.parametrize("cidr", ["10.42.0.0/16", "10.42.5.0/24", "10.42.128.0/17"],
                         ids=["equal", "inside", "half"])
def test_m3_a_new_pool_in_the_pod_cidr_is_refused(cidr):
    p = refusal(pool_rules.check_create, pool_rules.normalise("p", {"cidr": cidr}), NETS, [], [])
    assert p.slug == "pool-overlaps-pod-cidr" and p.extensions["conflict"] == "10.42.0.0/16"


def test_m3_the_default_pool_in_the_pod_cidr_may_still_be_updated():
    default = Pool("default-ipv4-ippool", "10.42.0.0/16", 26)
    pool_rules.check_update(default, pool_rules.normalise(default.name, {"cidr": "10.42.0.0/16",
                                                                          "natOutgoing": True}),
                            NETS, [default], [])


def test_m3_without_declared_host_networks_the_nodes_addresses_are_the_host_networks():
    bare = ClusterNetworks("c1", (), "10.43.0.0/16", "10.42.0.0/16")
    pool = pool_rules.normalise("p", {"cidr": "10.20.0.0/16"})
    p = refusal(pool_rules.check_create, pool, bare, [], [])
    assert p.slug == "host-networks-unknown", "P7 is never checked against nothing"
    seen = bare.with_nodes([node("10.20.1.11"), node("10.30.0.5")])
    assert seen.node_addresses == ("10.20.1.11", "10.30.0.5")
    p = refusal(pool_rules.check_create, pool, seen, [], [])
    assert p.slug == "pool-overlaps-host-network" and p.extensions["conflict"] == "10.20.1.11/32"
    pool_rules.check_create(pool_rules.normalise("q", {"cidr": "10.99.0.0/16"}), seen, [], [])


def test_m3_a_change_is_judged_as_before_and_after():
    current = Pool("p", "10.60.0.0/16", 26)
    out = pool_changes.judge("disable", "p", None, NETS, [current], [])
    assert out.before == current.spec() and out.after == {**current.spec(), "disabled": True}
    out = pool_changes.judge("create", "n", {"cidr": "10.61.0.0/16"}, NETS, [current], [])
    assert out.before is None and out.after["blockSize"] == 26
    assert pool_changes.judge("delete", "p", None, NETS, [current], []).after is None
    p = refusal(pool_changes.judge, "update", "p", {"cidr": "10.60.0.0/16", "blockSize": 28}, NETS, [current], [])
    assert p.slug == "immutable-field" and p.extensions["field"] == "blockSize"
    assert refusal(pool_changes.judge, "enable", "nope", None, NETS, [current], []).slug == "not-found"
    p = refusal(pool_changes.unchanged_since, "p", {**current.spec(), "natOutgoing": True}, [current], "c1")
    assert p.slug == "pool-changed-meanwhile"
