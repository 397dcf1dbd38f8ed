"""The lab cluster end to end: machines from a CMDB of the running lab machines, members
placed by the orchestrator's commands, cluster.yml rendered by the inventory and accepted
by the lab ``rke`` (it builds the cluster over SSH), then the cluster imported back — from
its cluster.yml + cluster.rkestate and through the Kubernetes API — with every lab node
matched to its machine and a foreign node reported, not invented. A marker planted in the
rkestate never shows in an API response, a log line or an event."""
from __future__ import annotations

import json
import logging
import subprocess
import uuid

import pytest
import yaml
from kubernetes import client

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_lab.cmdb.component import running_machines
from autorke_lab.provisioners.rke import write_wrapper
from fixtures.signing import sign

from .conftest import adopt, start_cmdb

ROLES = {"m001": ["controlplane", "etcd"], "m002": ["etcd", "worker"], "m003": ["etcd", "worker"]}


@pytest.fixture
def lab_cmdb(lab):
    cmdb, server = start_cmdb(40, running_machines(lab.lab.get("machines").status()))
    yield cmdb
    server.stop()


def known_hosts(lab, path) -> str:
    lines = []
    for m in lab.machines:
        host = m["address"] if m["port"] == 22 else f"[{m['address']}]:{m['port']}"
        lines.append(f"{host} {m['host_key']}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def rke(tmp_path, *args) -> subprocess.CompletedProcess:
    """The lab rke as the platform runs it: through the lab's wrapper, which names the lab's
    files of the cluster (the rendered cluster.yml names none: options may not, H1)."""
    return subprocess.run([str(tmp_path / "rke-wrapper" / "rke"), *args, "--config", str(tmp_path / "cluster.yml")],
                          capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)


def handle(inv, c: msg.Command) -> str:
    env = Envelope.of(c, source="orchestrator", correlation_id=c.change_id, actor="alice")
    return inv.client.app.state.inventory.commands.handle(sign(env))


def test_lab_cluster_rendered_accepted_imported_and_rkestate_kept_secret(
        lab, lab_cmdb, lab_kube_factory, make_inventory, events, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    marker = f"RKESTATE-MARKER-{uuid.uuid4().hex}"
    responses: list[str] = []

    def keep(r):
        responses.append(r.text + json.dumps(dict(r.headers)))
        return r

    kube = lab_kube_factory(seed_workloads=False)
    inv = make_inventory(lab_cmdb.url)
    keep(inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}))
    write_wrapper(tmp_path / "rke-wrapper", {"lab-rke": {
        "kubeconfig": str(kube.kubeconfig_path), "known_hosts": known_hosts(lab, tmp_path / "known_hosts"),
        "ssh_key_path": str(lab.private_key)}})
    options = {"kubernetes_version": "v1.28.15-rancher1-1"}
    r = keep(inv.post("/api/v1/clusters", json={
        "name": "lab-rke", "provider": "rke", "api_endpoint": kube.url,
        "host_networks": ["127.0.0.0/8"], "bgp_as": 64512, "options": options}))
    assert r.status_code == 201, r.text
    change = f"chg-{uuid.uuid4().hex[:8]}"
    for host, roles in ROLES.items():
        assert handle(inv, msg.AssignMembership(change_id=change, machine=host, cluster="lab-rke",
                                                roles=roles, labels={"lab": "yes"})) == \
            msg.MembershipChanged.TYPE

    # -- rendered cluster.yml, accepted by the lab rke (it builds the cluster) -----------------
    r = keep(inv.get("/api/v1/clusters/lab-rke/configs/cluster.yml:render"))
    assert r.status_code == 200, r.text
    rendered = yaml.safe_load(r.json()["content"])
    assert {n["hostname_override"]: sorted(n["role"]) for n in rendered["nodes"]} == ROLES
    (tmp_path / "cluster.yml").write_text(r.json()["content"])
    try:
        up = rke(tmp_path, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "Finished building Kubernetes cluster successfully" in up.stdout

        # -- import from cluster.yml + rkestate, with a node the inventory does not know -------
        for host in ROLES:
            assert handle(inv, msg.ReleaseMembership(change_id=change, machine=host,
                                                     cluster="lab-rke")) == msg.MembershipChanged.TYPE
        state = json.loads((tmp_path / "cluster.rkestate").read_text())
        bundle = state["currentState"]["certificatesBundle"]
        bundle["kube-ca"]["keyPEM"] += marker
        bundle.setdefault("kube-admin", {})["config"] = (tmp_path / "kube_config_cluster.yml"
                                                         ).read_text() + f"# {marker}\n"
        doc = yaml.safe_load((tmp_path / "cluster.yml").read_text())
        doc["nodes"].append({"address": "10.250.0.9", "user": "root", "role": ["worker"],
                             "hostname_override": "stranger"})
        machines_before = inv.get("/api/v1/machines", params={"limit": 1}).json()["total"]
        r = keep(inv.post("/api/v1/clusters/lab-rke:import", json={
            "cluster_yml": yaml.safe_dump(doc), "rkestate": json.dumps(state)}))
        assert r.status_code == 202 and r.json()["type"] == "config.import", r.text  # a change (H2)
        assert keep(inv.get("/api/v1/clusters/lab-rke/nodes")).json()["items"] == []
        assert adopt(inv, r.json()) == (msg.ConfigPreviewed.TYPE, msg.ConfigAdopted.TYPE)
        proposal = keep(inv.get(f"/api/v1/clusters/lab-rke/proposals/{r.json()['params']['proposal']}")).json()
        report = proposal["preview"]
        assert {m["hostname"]: m["roles"] for m in report["matched"]} == ROLES
        assert [u["node"] for u in report["unmatched"]] == ["stranger"]
        assert inv.get("/api/v1/machines", params={"limit": 1}).json()["total"] == machines_before
        nodes = keep(inv.get("/api/v1/clusters/lab-rke/nodes")).json()["items"]
        assert sorted(n["hostname"] for n in nodes) == sorted(ROLES)
        assert all(n["state"] == "member" for n in nodes)

        # -- import through the Kubernetes API (the executor's list_nodes, answered here) ------
        r = keep(inv.post("/api/v1/clusters/lab-rke:import", json={"source": "kubernetes"}))
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        events.wait_for(lambda ms: any(m["type"] == ex.ExecutorRun.TYPE
                                       and m["data"]["job_id"] == job_id for m in ms))
        api = kube.api_client()
        listed = client.CoreV1Api(api).list_node().items
        api.close()
        nodes = [api.sanitize_for_serialization(n) for n in listed]
        assert sorted(n["metadata"]["name"] for n in nodes) == sorted(ROLES)
        bus = inv.client.app.state.runtime.bus
        finished = ex.TargetFinished(job_id=job_id, host="lab-rke", status="succeeded",
                                     duration_s=0.1, result={"nodes": nodes})
        inv.client.portal.call(bus.publish, Envelope.of(finished, source="executor"))
        inv.client.portal.call(bus.publish, Envelope.of(ex.JobFinished(
            job_id=job_id, kind="kube", action="list_nodes", status="succeeded",
            targets=[ex.TargetSummary(host="lab-rke", status="succeeded")], duration_s=0.1),
            source="executor"))
        import time

        deadline = time.monotonic() + 15
        while (status := inv.get(f"/api/v1/clusters/lab-rke/imports/{job_id}").json())[
                "status"] == "pending" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status["status"] == "done", status
        assert sorted(m["hostname"] for m in status["report"]["matched"]) == sorted(ROLES)
        assert status["report"]["unmatched"] == []
        by_host = {m["hostname"]: m for m in status["report"]["matched"]}
        assert by_host["m001"]["roles"] == ["controlplane", "etcd"]
    finally:
        down = rke(tmp_path, "remove", "--force")
        for host in ROLES:
            lab.reset(host)
    assert down.returncode == 0, down.stdout + down.stderr

    # -- the rkestate stays secret -----------------------------------------------------------
    for path in ("/api/v1/clusters/lab-rke", "/api/v1/clusters",
                 "/api/v1/clusters/lab-rke/configs/cluster.rkestate",
                 "/api/v1/clusters/lab-rke/configs/cluster.rkestate/1",
                 "/api/v1/clusters/lab-rke/configs/kubeconfig/1",
                 "/api/v1/clusters/lab-rke/configs/cluster.yml/1",
                 "/api/v1/machines/m001"):
        r = keep(inv.get(path, user="admin"))
        assert r.status_code == 200, (path, r.text)
    redacted = inv.get("/api/v1/clusters/lab-rke/configs/cluster.rkestate/1").json()
    assert redacted["redacted"] and "keyPEM" in redacted["content"]
    assert inv.get("/api/v1/clusters/lab-rke/configs/cluster.rkestate/1",
                   params={"reveal": "true"}).status_code == 403  # a viewer may not reveal
    events.wait_for(lambda ms: any(m["type"] == msg.ConfigVersioned.TYPE
                                   and m["data"]["kind"] == "cluster.rkestate" for m in ms))
    assert not [r for r in responses if marker in r]
    assert marker not in caplog.text
    assert not [raw for _, raw in events.raw_snapshot() if marker.encode() in raw]
    revealed = inv.get("/api/v1/clusters/lab-rke/configs/cluster.rkestate/1", user="admin",
                       params={"reveal": "true"}).json()
    assert marker in revealed["content"]  # only an admin asking explicitly sees it
    read = [m for m in events.wait_for(lambda ms: any(m["type"] == msg.ConfigRevealed.TYPE for m in ms))
            if m["type"] == msg.ConfigRevealed.TYPE]
    assert [(m["data"]["kind"], m["data"]["version"], m["data"]["by"]) for m in read] == [
        ("cluster.rkestate", 1, read[0]["actor"])] and read[0]["actor"], "who read the keys is kept"
    assert not [raw for _, raw in events.raw_snapshot() if marker.encode() in raw], "and not what they read"
