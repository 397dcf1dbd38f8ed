"""C1 at netcfg: a cluster whose sealed kubeconfig is not on the allow-list (stored before
inventory checked it, or announced by anyone who can publish ``inventory.cluster.*``) is
never connected to. The periodic drift check skips it and an API call about its pools is
refused with 409 ``unsafe-kubeconfig``; its ``exec`` plugin, which would create a marker
file, never runs."""
from __future__ import annotations

import logging

from autorke_common.catalogue.inventory import ClusterRegistered
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from fixtures.kubeconfigs import exec_kubeconfig

from .conftest import SECRET_KEY, wait_for

DRIFT_LOG = "autorke_netcfg.service_layer.drift"


def test_c1_netcfg_refuses_a_stored_unsafe_kubeconfig_at_use(netcfg_factory, lab_kube, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger=DRIFT_LOG)
    netcfg = netcfg_factory(drift_check_interval_s=0.5)
    marker = tmp_path / "exec-plugin-ran"
    facts = ClusterRegistered(name="evil", provider="rke2", api_endpoint=lab_kube.url,
                              kubeconfig_sealed=SecretBox(SECRET_KEY).seal(exec_kubeconfig(marker, lab_kube.url)),
                              host_networks=["10.20.0.0/16"], pod_cidr="10.42.0.0/16", service_cidr="10.43.0.0/16",
                              bgp_as=64512)
    netcfg.publish(Envelope.of(facts, source="inventory"))
    wait_for(lambda: netcfg.call("GET", "/api/v1/netcfg/clusters/evil", "admin").status_code == 200)

    r = netcfg.call("GET", "/api/v1/clusters/evil/ippools")
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["type"].endswith("/unsafe-kubeconfig") and "users[0].user.exec" in body["detail"]

    def skipped() -> int:
        return sum(1 for rec in caplog.records if rec.name == DRIFT_LOG
                   and "cluster evil skipped" in rec.getMessage() and "users[0].user.exec" in rec.getMessage())

    wait_for(lambda: skipped() >= 3, timeout=120)  # three periodic drift checks passed it by
    assert not marker.exists(), "the exec plugin ran"
