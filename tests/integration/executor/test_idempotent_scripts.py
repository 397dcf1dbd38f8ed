"""The scripts that change a machine are idempotent: a job interrupted mid-way (its
executor killed, its lease lost) runs them again on that host (the chaos suite allows a
rerun only of these), so running each twice must leave the machine as running it once.
Through the real executor over SSH to a lab machine; the machine's state is read with the
lab's host-side access after each run and compared."""
from __future__ import annotations

from kubernetes import client

from autorke_lab.provisioners.rke2 import install_command, join_token
from fixtures.waiting import ready, wait

from .conftest import new_job, send, target, wait_finished

#: what these scripts write, and whether the agent runs
STATE = ("for f in $(find /etc/modules-load.d /etc/sysctl.d /var/lib/autorke /etc/rancher -type f 2>/dev/null"
         " | sort); do sha256sum \"$f\"; done; "
         "(systemctl is-active rke2-agent 2>/dev/null || echo inactive); "
         "ls /usr/local/bin/rke2* /usr/bin/rke2* 2>/dev/null || true")


def _twice(lab, events, make_job) -> list[str]:
    """Run the job twice (two job ids, as a rerun by another executor would be run): the
    machine's state after each; both runs succeed."""
    states = []
    for _ in range(2):
        job = make_job()
        send(events, job)
        finished = wait_finished(events, job.job_id, timeout=90)[0]["data"]
        assert finished["status"] == "succeeded", finished["targets"]
        rc, out, err = lab.run("m001", STATE)
        assert rc == 0, err
        states.append(out)
    return states


def test_init_and_cleanup_twice_leave_the_machine_as_once(lab_factory, events, executor_factory):
    lab = lab_factory(machines=1)
    executor_factory(lab)
    for profile in ("base", "container-runtime"):
        first, second = _twice(lab, events, lambda p=profile: new_job(
            kind="script", action="init", params={"profile": p}, targets=[target(lab, "m001")], fence=["m001"]))
        assert first == second and "/var/lib/autorke/init-profile" in first, (first, second)
    first, second = _twice(lab, events, lambda: new_job(kind="script", action="cleanup",
                                                        targets=[target(lab, "m001")], fence=["m001"]))
    assert first == second and "/var/lib/autorke" not in first, (first, second)


def test_rke2_join_and_remove_twice_leave_the_machine_as_once(lab_factory, lab_kube_factory, events,
                                                              executor_factory, box):
    lab = lab_factory(machines=1)
    kube = lab_kube_factory(node_grace_seconds=2, seed_workloads=False)
    executor_factory(lab, rke2_install_command=install_command(kube.kubeconfig_path.parent.parent, heartbeat_s=0.5))
    token = join_token((kube.kubeconfig_path.parent / "ca.crt").read_bytes(), kube.token)
    v1 = client.CoreV1Api(kube.api_client())

    def join():
        return new_job(kind="rke2", action="join", targets=[target(lab, "m001")], fence=["m001"],
                       params={"server": kube.url, "labels": {"rack": "r7"}}, secrets={"token": box.seal(token)})

    first, second = _twice(lab, events, join)
    assert first == second and "active" in first.split("\n"), (first, second)
    # the agent registers its Node on its own after the join: wait for it
    wait(lambda: (node := {n.metadata.name: n for n in v1.list_node().items}.get("m001")) is not None
         and ready(node), 60, "m001 a Ready node")
    assert [n.metadata.name for n in v1.list_node().items].count("m001") == 1
    assert v1.read_node("m001").metadata.labels["rack"] == "r7"

    first, second = _twice(lab, events, lambda: new_job(kind="rke2", action="remove",
                                                        targets=[target(lab, "m001")], fence=["m001"]))
    assert first == second and "/etc/rancher" not in first, (first, second)
