"""C1 in netcfg's kube adapter: a cluster's kubeconfig is opened and checked against the
allow-list before any client exists; one that is not on it (an ``exec`` plugin) makes the
cluster :class:`UnsafeKubeconfig`, an API call about it 409 ``unsafe-kubeconfig``, and its
plugin never runs."""
from __future__ import annotations

import pytest

from autorke_common.errors import Problem
from autorke_netcfg.adapters.kube import ClusterUnreachable, KubeClusters, UnsafeKubeconfig
from autorke_netcfg.adapters.orm import ClusterRow
from autorke_netcfg.service_layer.cluster_state import cluster_api
from fixtures.kubeconfigs import exec_kubeconfig, text, token_doc

from .fakes import FakeUnitOfWork, ports


def test_c1_an_unsafe_kubeconfig_gives_no_client_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    clusters = KubeClusters(lambda sealed: sealed.removeprefix("sealed:"))
    with pytest.raises(UnsafeKubeconfig) as refused:
        clusters.for_cluster("evil", "sealed:" + exec_kubeconfig(marker))
    assert isinstance(refused.value, ClusterUnreachable) and "users[0].user.exec" in str(refused.value)
    assert not marker.exists()
    api = clusters.for_cluster("fine", "sealed:" + text(token_doc("https://10.0.0.1:6443")))
    assert api.api.configuration.host == "https://10.0.0.1:6443"
    clusters.close()


def test_c1_a_call_about_a_cluster_with_an_unsafe_kubeconfig_is_409_and_not_retried(tmp_path):
    p = ports(FakeUnitOfWork(), KubeClusters(lambda sealed: sealed))  # type: ignore[arg-type]
    with pytest.raises(Problem) as refused:
        cluster_api(p, ClusterRow(name="evil", kubeconfig_sealed=exec_kubeconfig(tmp_path / "ran")))
    assert (refused.value.slug, refused.value.status) == ("unsafe-kubeconfig", 409)
