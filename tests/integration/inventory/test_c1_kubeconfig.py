"""C1 through the inventory's REST API, on real parts: a kubeconfig that would run a program
(an ``exec`` plugin that creates a marker file), read local files (``tokenFile``, file
paths) or skip TLS is refused with 422 ``unsafe-kubeconfig`` and its request field — on
register, on PATCH, and as the kube-admin config inside an imported ``cluster.rkestate`` —
and nothing is stored or announced. The executor runs on the same bus and the periodic
node-status refresh is on: the marker never appears while refreshes of a safe cluster come
and go, and no job for the refused cluster is ever asked."""
from __future__ import annotations

import json

import pytest
import yaml

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from fixtures.kubeconfigs import cert_doc, exec_kubeconfig, exec_user, text, token_doc, with_cluster, with_user
from fixtures.waiting import wait

from .conftest import LabCmdb, adopt

SLUG = "https://autorke.dev/problems/unsafe-kubeconfig"


@pytest.fixture
def nats_url(fresh_nats) -> str:
    """A NATS server of this test's own: the executor's work queue holds no other test's jobs."""
    return fresh_nats.url


def assert_refused(r, field: str) -> dict:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == SLUG and body["field"] == field, body
    return body


def nothing_stored(inv, cluster: str) -> None:
    for kind in ("kubeconfig", "cluster.yml", "cluster.rkestate"):
        r = inv.get(f"/api/v1/clusters/{cluster}/configs/{kind}")
        assert r.status_code == 404 or r.json()["items"] == [], (kind, r.text)


def periodic_refreshes(events, cluster: str) -> set[str]:
    """Job ids of the periodic node-status refreshes of ``cluster`` the executor finished."""
    prefix = f"inventory-nodes-{cluster}-p"
    return {m["data"]["job_id"] for m in events.snapshot()
            if m.get("type") == ex.JobFinished.TYPE and m["data"]["job_id"].startswith(prefix)}


def test_c1_register_with_an_exec_plugin_is_refused_and_runs_nothing(make_inventory, executor, lab_kube,
                                                                    events, tmp_path):
    marker = tmp_path / "exec-plugin-ran"
    inv = make_inventory(None, node_status_interval_s=1)
    # a safe cluster, refreshed every period: the proof the periodic jobs run meanwhile
    assert inv.post("/api/v1/clusters", json={"name": "safe", "provider": "rke2", "api_endpoint": lab_kube.url,
                                              "kubeconfig": lab_kube.kubeconfig_yaml}).status_code == 201
    evil = exec_kubeconfig(marker, lab_kube.url)

    r = inv.post("/api/v1/clusters", json={"name": "evil", "provider": "rke2", "api_endpoint": lab_kube.url,
                                           "kubeconfig": evil})
    body = assert_refused(r, "kubeconfig")
    assert "users[0].user.exec" in body["detail"] and str(marker) not in body["detail"]
    assert inv.get("/api/v1/clusters/evil").status_code == 404
    nothing_stored(inv, "evil")

    # nor slipped in by PATCH over a registered cluster's kubeconfig
    safe = inv.get("/api/v1/clusters/safe")
    r = inv.patch("/api/v1/clusters/safe", json={"kubeconfig": evil}, headers={"If-Match": safe.headers["ETag"]})
    assert_refused(r, "kubeconfig")
    after = inv.get("/api/v1/clusters/safe")
    assert after.headers["ETag"] == safe.headers["ETag"]
    assert [v["version"] for v in inv.get("/api/v1/clusters/safe/configs/kubeconfig").json()["items"]] == [1]

    # several periods go by, each refreshing the safe cluster through the executor
    seen_before = periodic_refreshes(events, "safe")
    wait(lambda: len(periodic_refreshes(events, "safe") - seen_before) >= 3, timeout=180,
         what="three periodic refreshes of the safe cluster finished by the executor")
    assert not marker.exists(), "the exec plugin ran"
    asked = [m for m in events.snapshot() if m.get("type") == ex.ExecutorRun.TYPE
             and m["data"].get("params", {}).get("cluster") == "evil"]
    announced = [m for m in events.snapshot() if m.get("type") in (msg.ClusterRegistered.TYPE, msg.ClusterUpdated.TYPE)
                 and m["data"]["name"] == "evil"]
    assert asked == [] and announced == []
    safe_jobs = [m for m in events.snapshot() if m.get("type") == ex.JobFinished.TYPE
                 and m["data"]["job_id"].startswith("inventory-nodes-safe-p")]
    assert all(j["data"]["status"] == "succeeded" for j in safe_jobs), safe_jobs  # the lab's kubeconfig passes


@pytest.mark.parametrize("doc,where", [
    (lambda f: with_user(token_doc(), {"tokenFile": str(f)}), "tokenFile"),
    (lambda f: with_user(token_doc(), {"client-certificate": str(f), "client-key": str(f)}), "client-certificate"),
    (lambda f: with_cluster(token_doc(), **{"certificate-authority": str(f)}), "certificate-authority"),
    (lambda f: with_cluster(token_doc(), **{"insecure-skip-tls-verify": True}), "insecure-skip-tls-verify"),
    (lambda f: with_cluster(token_doc(), **{"proxy-url": "http://127.0.0.1:3128"}), "proxy-url"),
    (lambda f: with_cluster(token_doc(), server="http://127.0.0.1:6443"), "server"),
], ids=["tokenFile", "client-cert-path", "ca-path", "insecure", "proxy", "http"])
def test_c1_token_file_and_file_paths_are_refused(make_inventory, events, tmp_path, doc, where):
    secret = tmp_path / "local-secret"
    secret.write_text("LOCAL-SECRET-CONTENT")
    inv = make_inventory(None, node_status_interval_s=0)
    kubeconfig = text(doc(secret))
    body = assert_refused(inv.post("/api/v1/clusters", json={"name": "files", "provider": "rke",
                                                             "kubeconfig": kubeconfig}), "kubeconfig")
    assert where in body["detail"] and str(secret) not in body["detail"]
    assert inv.get("/api/v1/clusters/files").status_code == 404

    created = inv.post("/api/v1/clusters", json={"name": "files", "provider": "rke"})
    assert created.status_code == 201
    assert_refused(inv.patch("/api/v1/clusters/files", json={"kubeconfig": kubeconfig},
                             headers={"If-Match": created.headers["ETag"]}), "kubeconfig")
    cluster = inv.get("/api/v1/clusters/files").json()
    assert cluster["version"] == 1 and not cluster["has_kubeconfig"]
    nothing_stored(inv, "files")
    assert "LOCAL-SECRET-CONTENT" not in json.dumps(events.snapshot())


def rkestate(kube_admin_config: str) -> str:
    bundle = {"kube-admin": {"name": "kube-admin", "config": kube_admin_config, "certificatePEM": "", "keyPEM": ""}}
    state = {"certificatesBundle": bundle, "rkeConfig": {}}
    return json.dumps({"desiredState": state, "currentState": state})


def test_c1_rkestate_kube_admin_with_exec_is_refused(make_inventory, cmdb: LabCmdb, events, tmp_path):
    marker = tmp_path / "exec-plugin-ran"
    inv = make_inventory(cmdb.url, node_status_interval_s=0)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    machine = inv.get("/api/v1/machines", params={"limit": 1, "state": "available"}).json()["items"][0]
    assert inv.post("/api/v1/clusters", json={"name": "imp", "provider": "rke"}).status_code == 201
    cluster_yml = yaml.safe_dump({"cluster_name": "imp", "nodes": [
        {"address": machine["ip"], "user": "root", "role": ["etcd", "controlplane", "worker"],
         "hostname_override": machine["hostname"]}]})

    bad = rkestate(text(with_user(cert_doc(), exec_user(marker))))
    body = assert_refused(inv.post("/api/v1/clusters/imp:import", json={"cluster_yml": cluster_yml,
                                                                        "rkestate": bad}), "rkestate")
    assert "users[0].user.exec" in body["detail"]
    assert inv.get("/api/v1/clusters/imp/nodes").json()["items"] == []  # no member placed
    assert inv.get(f"/api/v1/machines/{machine['hostname']}").json()["state"] == "available"
    assert not inv.get("/api/v1/clusters/imp").json()["has_kubeconfig"]
    nothing_stored(inv, "imp")
    assert not marker.exists()

    # RKE's own kube-admin shape (inline CA, client certificate and key) is imported as before
    # (a config.import change: the kubeconfig is the cluster's once the change adopts it, H2)
    good = inv.post("/api/v1/clusters/imp:import", json={"cluster_yml": cluster_yml,
                                                        "rkestate": rkestate(text(cert_doc()))})
    assert good.status_code == 202, good.text
    assert adopt(inv, good.json()) == (msg.ConfigPreviewed.TYPE, msg.ConfigAdopted.TYPE)
    assert inv.get("/api/v1/clusters/imp").json()["has_kubeconfig"]
