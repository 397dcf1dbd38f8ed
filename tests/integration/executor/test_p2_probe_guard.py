"""P2: machine init and cleanup refuse a machine that shows Kubernetes components on a
live probe (/etc/kubernetes, a kubelet container, a kubelet process, non-empty
/var/lib/etcd, an RKE2 agent), whatever the job says; a clean machine is initialised."""
from __future__ import annotations

import pytest

from .conftest import commands_of, new_job, send, target, wait_finished

SETUPS = {
    "etc_kubernetes": ("mkdir -p /etc/kubernetes/ssl", "rm -rf /etc/kubernetes", "/etc/kubernetes"),
    "kubelet_container": ("docker run -d --name kubelet rancher/hyperkube:v1.28.9 kubelet",
                          "docker rm -f kubelet", "container present: kubelet"),
    "etcd_data": ("mkdir -p /var/lib/etcd/member && touch /var/lib/etcd/member/wal",
                  "rm -rf /var/lib/etcd", "/var/lib/etcd (not empty)"),
    "kubelet_process": (("mkdir -p /opt/k8s/bin && ln -sf /bin/sleep /opt/k8s/bin/kubelet && "
                        "(setsid /opt/k8s/bin/kubelet 600 </dev/null >/dev/null 2>&1 &)"),
                        "pkill -f '^/opt/k8s/bin/kubelet 600'; rm -rf /opt/k8s", "process running: kubelet"),
}


@pytest.mark.parametrize("setup", sorted(SETUPS))
@pytest.mark.parametrize("action", ["init", "cleanup"])
def test_p2_probe_guard_refuses_machine_with_k8s_components(lab, events, executor_factory, setup, action):
    executor_factory(lab)
    make, undo, evidence = SETUPS[setup]
    lab.reset("m003")
    rc, _, err = lab.run("m003", make)
    assert rc == 0, err
    try:
        lab.machine("m003").clear_command_log()
        job = new_job(kind="script", action=action, params={"profile": "base"},
                      targets=[target(lab, "m003")], fence=["m003"])
        send(events, job)
        finished = wait_finished(events, job.job_id)[0]["data"]
        t = finished["targets"][0]
        assert finished["status"] == "failed"
        assert (t["status"], t["error_class"]) == ("refused", "refused_probe")
        assert evidence in t["error"]
        detail = events.of(job.job_id, "executor.target.finished")[0]["data"]["result"]
        assert any(evidence in e for e in detail["evidence"])
        # only the probe ran; the init/cleanup script never did
        cmds = commands_of(lab, "m003")
        assert len(cmds) == 1 and "AUTORKE_SCRIPT=probe" in cmds[0]
        rc, out, _ = lab.run("m003", "test -e /var/lib/autorke/init-profile && echo yes || echo no")
        assert out.strip() == "no"
    finally:
        lab.run("m003", undo)
        lab.reset("m003")


def test_p2_clean_machine_is_initialised_after_the_probe(lab, events, executor_factory):
    executor_factory(lab)
    name = next(n for n in ("m001", "m002", "m004", "m005", "m006") if lab.machine(n).facts.gpu_count)
    lab.reset(name)
    job = new_job(kind="script", action="init", params={"profile": "gpu"},
                  targets=[target(lab, name)], fence=[name])
    send(events, job)
    finished = wait_finished(events, job.job_id)[0]["data"]
    assert finished["status"] == "succeeded", finished["targets"]
    cmds = commands_of(lab, name)
    assert ["AUTORKE_SCRIPT=probe" in cmds[0], "AUTORKE_SCRIPT=init" in cmds[1]] == [True, True]
    _rc, out, _ = lab.run(name, "cat /var/lib/autorke/init-profile")
    assert out.strip() == "gpu"
    live = [line["line"] for e in events.of(job.job_id, "executor.target.output") for line in e["data"]["lines"]]
    assert "init: profile gpu done" in live
    # cleanup of the same (still clean) machine undoes it
    job = new_job(kind="script", action="cleanup", targets=[target(lab, name)], fence=[name])
    send(events, job)
    done = wait_finished(events, job.job_id)[0]["data"]
    assert done["status"] == "succeeded", done["targets"][0]["error"]
    _rc, out, _ = lab.run(name, "test -e /var/lib/autorke/init-profile && echo yes || echo no")
    assert out.strip() == "no"
    lab.reset(name)


def test_p2_kubelet_of_another_machine_does_not_refuse_this_one(lab, events, executor_factory):
    """Lab machines share one host: a kubelet process on one must not count on another (as
    on real machines, each sees its own processes only)."""
    executor_factory(lab)
    make, undo, _ = SETUPS["kubelet_process"]
    lab.reset("m005")
    lab.reset("m006")
    rc, _, err = lab.run("m005", make)
    assert rc == 0, err
    try:
        assert lab.run("m006", "pgrep -f '^/opt/k8s/bin/kubelet'")[0] == 1  # not even visible
        job = new_job(kind="script", action="init", params={"profile": "base"},
                      targets=[target(lab, "m006"), target(lab, "m005")], fence=["m005", "m006"])
        send(events, job)
        finished = wait_finished(events, job.job_id)[0]["data"]
        by_host = {t["host"]: t for t in finished["targets"]}
        assert by_host["m006"]["status"] == "succeeded", by_host["m006"]
        assert (by_host["m005"]["status"], by_host["m005"]["error_class"]) == ("refused", "refused_probe")
        assert "process running: kubelet" in by_host["m005"]["error"]
    finally:
        lab.run("m005", undo)
        lab.reset("m005")
        lab.reset("m006")
