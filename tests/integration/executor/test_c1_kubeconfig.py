"""C1 at the executor: a kube job whose sealed kubeconfig is not on the allow-list (stored
before inventory checked it, or sent by anyone who can publish) fails on every target with
``unsafe-kubeconfig`` and starts nothing — its ``exec`` plugin, which would create a marker
file, never runs — while the lab's own kubeconfig still works the same way."""
from __future__ import annotations

from fixtures.kubeconfigs import exec_kubeconfig, text, token_doc, with_user

from .conftest import new_job, send, wait_finished


def test_c1_executor_refuses_a_stored_unsafe_kubeconfig_at_use(lab, lab_kube, events, executor_factory, box,
                                                               tmp_path):
    executor_factory(lab)
    marker = tmp_path / "exec-plugin-ran"
    unsafe = {
        "exec": exec_kubeconfig(marker, lab_kube.url),
        "tokenFile": text(with_user(token_doc(lab_kube.url), {"tokenFile": str(lab.private_key)})),
    }
    for why, kubeconfig in unsafe.items():
        listing = new_job(kind="kube", action="list_nodes", secrets={"kubeconfig": box.seal(kubeconfig)})
        cordon = new_job(kind="kube", action="cordon", params={"nodes": ["n-a", "n-b"]}, fence=["n-a", "n-b"],
                         secrets={"kubeconfig": box.seal(kubeconfig)})
        for job in (listing, cordon):
            send(events, job)
            finished = wait_finished(events, job.job_id)[0]["data"]
            assert finished["status"] == "failed", (why, finished)
            targets = finished["targets"]
            assert targets and all(t["status"] == "failed" and t["error_class"] == "unsafe-kubeconfig"
                                   for t in targets), (why, targets)
            assert why in targets[0]["error"] and str(lab.private_key) not in targets[0]["error"]
    assert not marker.exists(), "the exec plugin ran"

    # the lab's kubeconfig (https, inline CA, token) is on the allow-list
    job = new_job(kind="kube", action="list_nodes", secrets={"kubeconfig": box.seal(lab_kube.kubeconfig_yaml)})
    send(events, job)
    assert wait_finished(events, job.job_id)[0]["data"]["status"] == "succeeded"
