"""Nothing half-applied: when a write fails part-way, the applier undoes what it wrote, in
reverse order. The cluster here is an in-memory fake of netcfg's own ClusterApi port."""
from __future__ import annotations

import pytest

from autorke_netcfg.domain.pool_rules import Pool
from autorke_netcfg.service_layer.apply import Applier


class FakeCluster:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict] = {}
        self.nodes = {"w1": {"metadata": {"name": "w1", "labels": {"rack": "r1"},
                                          "annotations": {}}}}
        self.fail_on: str | None = None

    def get(self, plural, name):
        return self.objects.get((plural, name))

    def create(self, plural, kind, name, spec, labels=None):
        self.objects[(plural, name)] = {"metadata": {"name": name}, "spec": dict(spec)}

    def delete(self, plural, name):
        self.objects.pop((plural, name), None)

    def upsert(self, plural, kind, name, spec, labels=None):
        if name == self.fail_on:
            raise RuntimeError("API server said no")
        before = self.objects.get((plural, name))
        self.create(plural, kind, name, spec)
        return self.objects[(plural, name)], before

    def node(self, name):
        return self.nodes.get(name)

    def patch_node_metadata(self, name, labels, annotations):
        meta = self.nodes[name]["metadata"]
        for key, value in labels.items():
            if value is None:
                meta["labels"].pop(key, None)
            else:
                meta["labels"][key] = value
        for key, value in annotations.items():
            if value is None:
                meta["annotations"].pop(key, None)
            else:
                meta["annotations"][key] = value


def test_a_failure_part_way_undoes_every_write():
    fake = FakeCluster()
    fake.fail_on = "peer-r1"
    applier = Applier(fake, "nt-1")
    applier.pool(Pool("flat", "10.100.0.0/16", 26), {})
    applier.node("w1", {"network.autorke.io/flat": "true", "rack": "r1"},
                 {"projectcalico.org/ASNumber": "65001"})
    with pytest.raises(RuntimeError):
        applier.resource("bgppeers", "BGPPeer", "peer-r1", {"peerIP": "10.0.0.1"}, {})
    assert applier.rollback() == []
    assert fake.objects == {}
    assert fake.nodes["w1"]["metadata"] == {"name": "w1", "labels": {"rack": "r1"},
                                            "annotations": {}}
