"""P7 pool rules as pure functions: each refusal's slug, field and the range it names."""
from __future__ import annotations

import pytest

from autorke_common.errors import DomainError, Invalid
from autorke_netcfg.domain import pool_rules
from autorke_netcfg.domain.pool_rules import Block, ClusterNetworks, Pool

NETS = ClusterNetworks("c1", ("10.20.0.0/16",), "10.43.0.0/16", "10.42.0.0/16")


def refusal(fn, *args) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args)
    return caught.value


@pytest.mark.parametrize("text,suggestion", [("10.1.1.0/16", "10.1.0.0/16"),
                                             ("fd00::1/64", "fd00::/64")])
def test_p7_cidr_with_host_bits_is_refused_with_the_network(text, suggestion):
    p = refusal(pool_rules.parse_cidr, text)
    assert p.slug == "invalid-cidr" and p.extensions["suggestion"] == suggestion


def test_p7_block_size_ranges_per_family():
    assert pool_rules.normalise("a", {"cidr": "10.0.0.0/16"}).blockSize == 26
    assert pool_rules.normalise("a", {"cidr": "fd00::/48"}).blockSize == 122
    for spec in ({"cidr": "10.0.0.0/16", "blockSize": 33}, {"cidr": "fd00::/48", "blockSize": 115},
                 {"cidr": "10.0.0.0/27", "blockSize": 26}, {"cidr": "10.0.0.0/16", "blockSize": True}):
        assert refusal(pool_rules.normalise, "a", spec).slug == "invalid-block-size"


@pytest.mark.parametrize("cidr,slug,conflict", [
    ("10.20.5.0/24", "pool-overlaps-host-network", "10.20.0.0/16"),
    ("10.0.0.0/8", "pool-overlaps-host-network", "10.20.0.0/16"),
    ("10.43.0.0/20", "pool-overlaps-service-cidr", "10.43.0.0/16"),
    ("10.44.0.0/16", "pool-overlaps-pool", "10.44.0.0/15"),
    ("169.254.1.0/24", "pool-overlaps-reserved", "169.254.0.0/16"),
])
def test_p7_overlaps_name_the_conflicting_range(cidr, slug, conflict):
    existing = [Pool("old", "10.44.0.0/15", 26)]
    p = refusal(pool_rules.check_create, pool_rules.normalise("new", {"cidr": cidr}), NETS, existing, [])
    assert p.slug == slug and p.extensions["conflict"] == conflict and conflict in p.detail


def test_ipv6_pool_does_not_clash_with_ipv4_networks():
    pool_rules.check_create(pool_rules.normalise("v6", {"cidr": "fd00:10::/48"}), NETS, [], [])


@pytest.mark.parametrize("blocks", [[Block("10.60.128.0/26", 3)], []], ids=["in use", "empty"])
def test_m3_cidr_and_block_size_are_immutable_in_use_or_not(blocks):
    current = Pool("busy", "10.60.0.0/16", 26)
    for cidr in ("10.60.0.0/17", "10.61.0.0/16", "10.60.0.0/15"):
        wanted = pool_rules.normalise("busy", {"cidr": cidr})
        p = refusal(pool_rules.check_update, current, wanted, NETS, [current], blocks)
        assert isinstance(p, Invalid) and p.slug == "immutable-field" and p.extensions["field"] == "cidr"
    reblock = pool_rules.normalise("busy", {"cidr": "10.60.0.0/16", "blockSize": 24})
    p = refusal(pool_rules.check_update, current, reblock, NETS, [current], blocks)
    assert p.slug == "immutable-field" and p.extensions["field"] == "blockSize"
    # every other field may change
    pool_rules.check_update(current, pool_rules.normalise("busy", {"cidr": "10.60.0.0/16", "natOutgoing": True,
                                                                   "disabled": True}), NETS, [current], blocks)


def test_p7_delete_only_when_disabled_and_empty():
    pool = Pool("p", "10.70.0.0/16", 26)
    assert refusal(pool_rules.check_delete, pool, [Block("10.70.0.0/26", 1)]).slug == "pool-in-use"
    assert refusal(pool_rules.check_delete, pool, [Block("10.70.0.0/26", 0)]).slug == "pool-not-disabled"
    pool_rules.check_delete(Pool("p", "10.70.0.0/16", 26, disabled=True), [Block("10.70.0.0/26", 0)])
    pool_rules.check_delete(pool, [Block("10.71.0.0/26", 9)])    # blocks of another pool


def test_drift_lists_each_changed_field():
    a = Pool("p", "10.0.0.0/16", 26).spec()
    assert pool_rules.differences(a, {**a, "natOutgoing": True}) == {
        "natOutgoing": {"recorded": False, "actual": True}}
