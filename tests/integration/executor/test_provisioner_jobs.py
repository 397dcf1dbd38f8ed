"""Provisioner jobs: RKE1 through the lab's ``rke`` stand-in (cluster.yml and the sealed
rkestate in a private temp dir, new state returned sealed, nodes outside the fence
refused before rke runs) and RKE2 per-node join/remove that touches that node only."""
from __future__ import annotations

import json

import yaml
from kubernetes import client

from autorke_lab.provisioners.rke import rke_path
from autorke_lab.provisioners.rke2 import install_command, join_token
from fixtures.waiting import wait

from .conftest import commands_of, new_job, send, target, wait_finished


def _wait(predicate, timeout: float) -> None:
    wait(predicate, timeout, "condition", 0.2)


def _ready(v1, name: str) -> bool:
    nodes = {n.metadata.name: n for n in v1.list_node().items}
    n = nodes.get(name)
    return bool(n and any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []))


def test_rke2_join_and_remove_touch_that_node_only(lab_factory, lab_kube_factory, events, executor_factory, box):
    lab = lab_factory(machines=3)
    kube = lab_kube_factory(node_grace_seconds=2, seed_workloads=False)
    executor_factory(lab, rke2_install_command=install_command(kube.kubeconfig_path.parent.parent, heartbeat_s=0.5))
    ca_pem = (kube.kubeconfig_path.parent / "ca.crt").read_bytes()
    token = join_token(ca_pem, kube.token)
    v1 = client.CoreV1Api(kube.api_client())
    job = new_job(kind="rke2", action="join", targets=[target(lab, "m002")], fence=["m002"],
                  params={"server": kube.url, "labels": {"rack": "r7"},
                          "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
                  secrets={"token": box.seal(token)})
    send(events, job)
    finished = wait_finished(events, job.job_id, timeout=60)[0]["data"]
    assert finished["status"] == "succeeded", finished["targets"]
    _wait(lambda: _ready(v1, "m002"), 15)
    node = v1.read_node("m002")
    assert node.metadata.labels["rack"] == "r7"
    assert [(t.key, t.effect) for t in node.spec.taints] == [("dedicated", "NoSchedule")]
    assert commands_of(lab, "m001") == [] and commands_of(lab, "m003") == []
    assert all(token not in c for c in commands_of(lab, "m002"))  # the token went on stdin
    assert all(token not in json.dumps(e) for e in events.events)

    job = new_job(kind="rke2", action="remove", targets=[target(lab, "m002")], fence=["m002"])
    send(events, job)
    assert wait_finished(events, job.job_id, timeout=60)[0]["data"]["status"] == "succeeded"
    _rc, out, _ = lab.run("m002", "test -e /etc/rancher/rke2 && echo yes || echo no")
    assert out.strip() == "no"
    _wait(lambda: not _ready(v1, "m002"), 15)
    assert commands_of(lab, "m001") == [] and commands_of(lab, "m003") == []


def test_rke_up_returns_sealed_state_and_respects_the_fence(lab_factory, lab_kube_factory, events,
                                                          executor_factory, box, tmp_path):
    lab = lab_factory(machines=3)
    kube = lab_kube_factory(seed_workloads=False)
    executor_factory(lab, rke_binary=str(rke_path()))
    known = tmp_path / "known_hosts"
    known.write_text("".join(f"[{m['address']}]:{m['port']} {m['host_key']}\n" if m["port"] != 22
                             else f"{m['address']} {m['host_key']}\n" for m in lab.machines))
    names = [m["name"] for m in lab.machines]
    doc = {"cluster_name": "exec-rke", "x_autorke_lab": {"kubeconfig": str(kube.kubeconfig_path),
                                                         "known_hosts": str(known)},
           "nodes": [{"address": lab.info(n)["address"], "port": lab.info(n)["port"], "user": "root",
                      "role": ["etcd", "controlplane", "worker"], "hostname_override": n,
                      "ssh_key_path": str(lab.private_key)} for n in names[:1]]}
    sealed_yml = box.seal(yaml.safe_dump(doc))

    refused = new_job(kind="rke", action="up", fence=[], secrets={"cluster_yml": sealed_yml})
    send(events, refused)
    t = wait_finished(events, refused.job_id)[0]["data"]["targets"][0]
    assert t["error_class"] == "refused_fence" and names[0] in t["error"]
    assert commands_of(lab, names[0]) == []

    job = new_job(kind="rke", action="up", fence=names[:1], secrets={"cluster_yml": sealed_yml},
                  targets=[target(lab, names[0])], command_timeout_s=120)
    send(events, job)
    finished = wait_finished(events, job.job_id, timeout=150)[0]["data"]
    assert finished["status"] == "succeeded", finished["targets"]
    result = events.of(job.job_id, "executor.target.finished")[0]["data"]["result"]
    state = json.loads(box.open(result["rkestate"]))
    assert "kube-ca" in state["currentState"]["certificatesBundle"]
    assert "BEGIN" not in json.dumps(events.events)  # no key material in any event
    live = [line["line"] for e in events.of(job.job_id, "executor.target.output") for line in e["data"]["lines"]]
    assert any("Finished building Kubernetes cluster successfully" in line for line in live)
    assert commands_of(lab, names[1]) == [] and commands_of(lab, names[2]) == []

    # rke reconciles away the applied state's nodes missing from cluster.yml by connecting
    # to them: a change fenced to the new node only may not run it.
    moved = {**doc, "nodes": [{**doc["nodes"][0], "address": lab.info(names[1])["address"],
                               "port": lab.info(names[1])["port"], "hostname_override": names[1]}]}
    before = commands_of(lab, names[0])
    stale = new_job(kind="rke", action="up", fence=names[1:2], targets=[target(lab, names[1])], secrets={
        "cluster_yml": box.seal(yaml.safe_dump(moved)), "rkestate": result["rkestate"]})
    send(events, stale)
    t = wait_finished(events, stale.job_id)[0]["data"]["targets"][0]
    assert t["error_class"] == "refused_fence" and names[0] in t["error"], t
    assert commands_of(lab, names[0]) == before
    assert commands_of(lab, names[1]) == []

    job = new_job(kind="rke", action="remove", fence=names[:1], targets=[target(lab, names[0])], secrets={
        "cluster_yml": sealed_yml, "rkestate": result["rkestate"]})
    send(events, job)
    assert wait_finished(events, job.job_id, timeout=150)[0]["data"]["status"] == "succeeded"


def test_h1_rke_is_not_run_when_a_fenced_name_points_at_another_machine(lab_factory, events, executor_factory, box):
    """H1: cluster.yml names ``m001`` (in the fence) but at m002's address and port (an
    options override, an edited cluster.yml): rke would dial m002 with the fleet key.
    Refused before rke runs; neither machine is touched. Before the fix the name passed."""
    lab = lab_factory(machines=2)
    executor_factory(lab, rke_binary=str(rke_path()))
    m2 = lab.info("m002")
    doc = {"cluster_name": "exec-h1", "nodes": [{"address": m2["address"], "port": m2["port"], "user": "root",
                                                  "role": ["etcd", "controlplane", "worker"],
                                                  "hostname_override": "m001"}]}
    job = new_job(kind="rke", action="up", fence=["m001"], targets=[target(lab, "m001")],
                  secrets={"cluster_yml": box.seal(yaml.safe_dump(doc))})
    send(events, job)
    t = wait_finished(events, job.job_id)[0]["data"]["targets"][0]
    assert t["error_class"] == "refused_fence" and f"m001 at {m2['address']}:{m2['port']}" in t["error"], t
    assert commands_of(lab, "m001") == [] and commands_of(lab, "m002") == []
