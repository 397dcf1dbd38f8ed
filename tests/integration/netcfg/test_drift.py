"""Drift against a lab cluster's Kubernetes API: netcfg's own pool writes are never drift,
however the drift check interleaves with them, and an edit made in the cluster behind
netcfg's back always is. The interleavings are forced, not hoped for: the drift check (the
handler bootstrap runs periodically) is run from inside netcfg's own cluster calls, at the
moment a write is in flight, on the service's own ports."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from kubernetes import client

from autorke_common.catalogue.netcfg import ApplyPool
from autorke_common.envelope import utcnow
from autorke_netcfg.adapters.kube import ClusterApi
from autorke_netcfg.adapters.orm import PoolRow
from autorke_netcfg.domain import pool_changes
from autorke_netcfg.service_layer import pools
from autorke_netcfg.service_layer.drift import detect_drift

from .conftest import G, V, wait_for
from .test_flatten import plan, wait_status

DRIFT = "autorke.events.netcfg.ippool.drift_detected"
BASE = "/api/v1/clusters/{c}/ippools"


@pytest.fixture
def netcfg(netcfg_factory):
    """netcfg whose periodic drift check stays out of the way: these tests run it at the
    moments they choose."""
    return netcfg_factory(drift_check_interval_s=3600.0)


def drift_events(netcfg, cluster: str) -> list[dict]:
    return [e.data for e in netcfg.events(DRIFT) if e.data["cluster"] == cluster]


def after_each(monkeypatch, method: str, plural: str, then: Callable[[], object]) -> list:
    """Run ``then`` right after each of netcfg's ``ClusterApi.<method>`` calls on
    ``plural`` returns (the cluster written, netcfg not yet past the call); what it
    returned, in order."""
    original = getattr(ClusterApi, method)
    results: list = []

    def hooked(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if args and args[0] == plural:
            results.append(then())
        return out

    monkeypatch.setattr(ClusterApi, method, hooked)
    return results


def create(netcfg, c, name, **spec):
    return netcfg.write("POST", BASE.format(c=c), json={"name": name, "spec": spec})


def applied(ports, cluster: str, operation: str, name: str, spec: dict | None = None) -> None:
    """An approved ``ippool.<operation>`` change's apply step, run on netcfg's own ports."""
    live = pools._Live(ports, cluster)
    out = pool_changes.judge(operation, name, spec, *live.state)
    assert pools.apply(ApplyPool(command_id=f"t-{operation}-{name}|kube-api", change_id=f"t-{operation}",
                                 cluster=cluster, pool=name, operation=operation, before=out.before,
                                 after=out.after), ports)


def test_a_ticket_pool_written_but_not_yet_recorded_is_not_drift(netcfg, cluster, vcalico,
                                                                  monkeypatch):
    """The CI failure of issue 14: the drift check ran after apply created the pool in
    Calico and before the ticket's unit of work recorded it."""
    lab, _ = cluster
    checks = after_each(monkeypatch, "create", "ippools", lambda: detect_drift(netcfg.ports))
    tid = plan(netcfg, lab.name).json()["id"]
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:approve", "approver").status_code == 200
    wait_status(netcfg, tid, "callback_received")
    assert netcfg.call("POST", f"/api/v1/tickets/{tid}:confirm", "admin").status_code == 200
    wait_status(netcfg, tid, "applied")
    assert checks == [0]                       # the check ran mid-apply and announced nothing
    assert detect_drift(netcfg.ports) == 0     # nor once the pool is recorded
    assert drift_events(netcfg, lab.name) == []
    types = [e.type for e in netcfg.events() if e.data.get("ticket_id") == tid
             or e.data.get("pool") == "flat-pods"]
    assert types[-3:] == ["netcfg.ticket.confirmed", "netcfg.ippool.created",
                          "netcfg.ticket.applied"]


def test_api_pool_writes_in_flight_are_not_drift(netcfg, cluster, monkeypatch):
    lab, _ = cluster
    base = BASE.format(c=lab.name)
    checks = []
    for method in ("create", "replace_spec", "delete"):
        checks = after_each(monkeypatch, method, "ippools", lambda: detect_drift(netcfg.ports))
        if method == "create":
            assert create(netcfg, lab.name, "p", cidr="10.110.0.0/16").status_code == 201
        elif method == "replace_spec":
            put = netcfg.write("PUT", base + "/p", json={"spec": {"cidr": "10.110.0.0/16",
                                                                 "natOutgoing": True}})
            assert put.status_code == 200, put.text
            assert netcfg.write("POST", base + "/p:disable").status_code == 200
        else:
            assert netcfg.write("DELETE", base + "/p").status_code == 204
        assert checks and set(checks) == {0}, (method, checks)
        monkeypatch.undo()
    assert detect_drift(netcfg.ports) == 0
    assert drift_events(netcfg, lab.name) == []


@pytest.mark.parametrize("write", ["create", "update", "delete"])
def test_a_write_finished_while_the_check_reads_the_cluster_is_not_drift(netcfg, cluster,
                                                                         monkeypatch, write):
    """The other order: the cluster is listed before a whole write, the records read after
    it. Either read alone is right; together they are not one picture."""
    lab, _ = cluster
    ports = netcfg.ports
    if write != "create":
        applied(ports, lab.name, "create", "p", {"cidr": "10.120.0.0/16"})
        applied(ports, lab.name, "disable", "p")
    assert detect_drift(ports) == 0
    armed = [True]

    def meanwhile():
        if armed and armed.pop():
            if write == "create":
                applied(ports, lab.name, "create", "p", {"cidr": "10.120.0.0/16"})
            elif write == "update":
                applied(ports, lab.name, "enable", "p")
            else:
                applied(ports, lab.name, "delete", "p")

    after_each(monkeypatch, "list", "ippools", meanwhile)
    assert detect_drift(ports) == 0
    assert not armed                           # the write did happen mid-check
    monkeypatch.undo()
    assert detect_drift(ports) == 0
    assert drift_events(netcfg, lab.name) == []


def test_edits_behind_netcfgs_back_are_reported(netcfg, cluster):
    lab, api = cluster
    for name, cidr in (("tracked", "10.130.0.0/16"), ("gone", "10.131.0.0/16")):
        assert create(netcfg, lab.name, name, cidr=cidr).status_code == 201
    assert detect_drift(netcfg.ports) == 0
    co = client.CustomObjectsApi(api)
    co.patch_cluster_custom_object(G, V, "ippools", "tracked", {"spec": {"natOutgoing": True}})
    co.delete_cluster_custom_object(G, V, "ippools", "gone")
    co.create_cluster_custom_object(G, V, "ippools", {
        "apiVersion": f"{G}/{V}", "kind": "IPPool", "metadata": {"name": "handmade"},
        "spec": {"cidr": "10.132.0.0/16", "blockSize": 26}})
    assert detect_drift(netcfg.ports) == 3
    announced = wait_for(lambda: len(got := drift_events(netcfg, lab.name)) >= 3 and got)
    drifts = {d["pool"]: d for d in announced}
    assert drifts["tracked"]["kind"] == "changed"
    assert drifts["tracked"]["differences"] == {"natOutgoing": {"recorded": False,
                                                                "actual": True}}
    assert drifts["gone"]["kind"] == "missing"
    assert drifts["handmade"]["kind"] == "unmanaged"
    assert detect_drift(netcfg.ports) == 0     # announced once


def test_an_edit_behind_netcfgs_back_during_its_own_write_is_reported_after(netcfg, cluster,
                                                                           monkeypatch):
    """Skipping a pool while netcfg writes it defers its check; it does not hide an edit
    someone else made meanwhile."""
    lab, api = cluster
    assert create(netcfg, lab.name, "shared", cidr="10.140.0.0/16").status_code == 201
    co = client.CustomObjectsApi(api)

    def someone_else_edits_then_check():
        co.patch_cluster_custom_object(G, V, "ippools", "shared",
                                       {"spec": {"nodeSelector": "rack == 'r2'"}})
        return detect_drift(netcfg.ports)

    checks = after_each(monkeypatch, "replace_spec", "ippools", someone_else_edits_then_check)
    put = netcfg.write("PUT", BASE.format(c=lab.name) + "/shared",
                      json={"spec": {"cidr": "10.140.0.0/16", "natOutgoing": True}})
    assert put.status_code == 200, put.text
    assert checks == [0]
    monkeypatch.undo()
    assert detect_drift(netcfg.ports) == 1
    (drift,) = wait_for(lambda: drift_events(netcfg, lab.name))
    assert drift["pool"] == "shared" and drift["kind"] == "changed"
    assert drift["differences"] == {"nodeSelector": {"recorded": "all()",
                                                     "actual": "rack == 'r2'"}}


def test_a_write_whose_writer_died_is_judged_after_the_grace_period(netcfg, cluster):
    """A replica that died between marking its write and recording it leaves the mark
    behind; once the mark is older than the grace period, the pool is judged again."""
    lab, api = cluster
    with netcfg.ports.uow() as uow:
        uow.pools.add(PoolRow(cluster=lab.name, name="orphan", spec={},
                              write_id="died-mid-write", write_by="operator",
                              write_started_at=utcnow() - timedelta(hours=2)))
        uow.commit()
    client.CustomObjectsApi(api).create_cluster_custom_object(G, V, "ippools", {
        "apiVersion": f"{G}/{V}", "kind": "IPPool", "metadata": {"name": "orphan"},
        "spec": {"cidr": "10.150.0.0/16", "blockSize": 26}})
    assert detect_drift(netcfg.ports) == 1
    (drift,) = wait_for(lambda: drift_events(netcfg, lab.name))
    assert drift["pool"] == "orphan" and drift["kind"] == "unmanaged"
