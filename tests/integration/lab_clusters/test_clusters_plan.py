"""Which machines the lab clusters take: 3 core + 3 workers each by default, half the
machines left free when there are too few, a cluster skipped (with a notice) when nothing
is left for it, and options that make no sense refused before anything is touched."""
from __future__ import annotations

import pytest

from autorke_lab.clusters.plan import ClusterOptions, PlanError, plan

MACHINES = [(f"m{i:03d}", f"127.0.9.{i}", 22) for i in range(1, 25)]


def shape(layout) -> dict[str, list[tuple[str, ...]]]:
    return {c.name: [m.roles for m in c.members] for c in layout.clusters}


def test_default_is_3_core_and_3_workers_each_and_the_rest_free():
    layout = plan(MACHINES, ClusterOptions())
    core, worker = ("controlplane", "etcd"), ("worker",)
    assert shape(layout) == {"rke1-lab": [core] * 3 + [worker] * 3,
                             "rke2-lab": [core] * 3 + [worker] * 3}
    assert layout.clusters[1].members[0].machine == "m007"
    assert layout.free == [f"m{i:03d}" for i in range(13, 25)] and not layout.notices


def test_too_few_machines_build_smaller_clusters_and_say_so():
    layout = plan(MACHINES[:6], ClusterOptions())
    assert shape(layout) == {"rke1-lab": [("controlplane", "etcd", "worker")],
                             "rke2-lab": [("controlplane", "etcd"), ("worker",)]}
    assert layout.free == ["m004", "m005", "m006"]
    assert "only 6 usable" in layout.notices[0]


def test_nothing_left_skips_with_a_notice():
    layout = plan(MACHINES[:1], ClusterOptions())
    assert layout.clusters == [] and layout.free == ["m001"]
    assert any("rke1-lab skipped" in n for n in layout.notices)
    assert plan(MACHINES, ClusterOptions(rke1_machines=0)).clusters[0].name == "rke2-lab"


@pytest.mark.parametrize("options", [{"clusters.enabled": "maybe"},
                                     {"clusters.rke1_machines": "six"},
                                     {"clusters.rke2_machines": "-1"}])
def test_bad_options_are_refused(options):
    with pytest.raises(PlanError):
        ClusterOptions.from_options(options)
