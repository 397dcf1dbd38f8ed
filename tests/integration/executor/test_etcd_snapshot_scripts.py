"""H6 on a real lab machine that is an RKE1 etcd node (an ``etcd`` container of the lab's
docker, a data directory): the etcd snapshot scripts, as ``executor.run`` jobs over SSH,
never replace nor remove a snapshot that their change did not make. The change is the
job's ``change_id``, which the executor hands to the scripts (``AUTORKE_CHANGE_ID``)."""
from __future__ import annotations

from .conftest import new_job, send, target, wait_finished

SNAPSHOTS = "/opt/rke/etcd-snapshots"


def _run(lab, events, name: str, action: str, change_id: str | None, *args: str) -> dict:
    job = new_job(kind="script", action=action, params={"args": list(args)}, targets=[target(lab, name)],
                  fence=[name], change_id=change_id, command_timeout_s=120)
    send(events, job)
    wait_finished(events, job.job_id, timeout=120)
    [done] = events.of(job.job_id, "executor.target.finished")
    return done["data"]


def _files(machine) -> dict[str, str]:
    """Every file of the snapshot directory (hidden ones too) with its sha256."""
    out = machine.exec_in(["sh", "-c", f"cd {SNAPSHOTS} && sha256sum .[!.]* * 2>/dev/null"], check=False).stdout
    return {line.split()[1]: line.split()[0] for line in out.splitlines()}


def test_h6_on_an_etcd_node_a_snapshot_the_change_did_not_make_is_never_replaced_nor_removed(
        lab_factory, events, executor_factory):
    lab = lab_factory(machines=1)
    executor_factory(lab)
    name = "m001"
    node = lab.machine(name)
    etcd_node = ("docker run -d --name etcd rancher/mirrored-coreos-etcd:v3.5.9 >/dev/null "
                 "&& mkdir -p /var/lib/etcd/member && echo live-data > /var/lib/etcd/member/db "
                 f"&& mkdir -p {SNAPSHOTS} && printf known-good > {SNAPSHOTS}/pre-upgrade.tar.gz")
    node.exec_in(["sh", "-c", etcd_node])
    before = _files(node)

    listed = _run(lab, events, name, "etcd_snapshot_list", "chg-a")
    assert (listed["status"], listed["result"]["snapshots"]) == ("succeeded", ["pre-upgrade"])

    # change A asks for the name the known-good backup has: refused there, nothing written
    taken = _run(lab, events, name, "etcd_snapshot", "chg-a", "pre-upgrade")
    assert taken["status"] == "failed" and taken["result"]["snapshot"]["created"] is False, taken
    assert "is taken" in taken["error"]
    assert _files(node) == before
    # A's compensation (its cancel) keeps what A did not make
    undo = _run(lab, events, name, "etcd_snapshot_delete", "chg-a", "pre-upgrade")
    assert undo["status"] == "succeeded" and "not made by this change: kept" in undo["output"]
    assert _files(node) == before

    # change B makes a new one; a re-run of B's step (another job of B) changes nothing
    made = _run(lab, events, name, "etcd_snapshot", "chg-b", "fresh")
    assert made["status"] == "succeeded" and made["result"]["snapshot"]["created"] is True, made
    after = _files(node)
    assert set(after) - set(before) == {"fresh.tar.gz", ".fresh.owner"}
    again = _run(lab, events, name, "etcd_snapshot", "chg-b", "fresh")
    assert again["status"] == "succeeded" and again["result"]["snapshot"]["created"] is True
    assert _files(node) == after
    assert node.exec_in(["tar", "-tzf", f"{SNAPSHOTS}/fresh.tar.gz"]).stdout.split() == [
        "./", "./member/", "./member/db"]
    # another change's compensation keeps B's snapshot; B's own removes exactly it
    assert "kept" in _run(lab, events, name, "etcd_snapshot_delete", "chg-a", "fresh")["output"]
    assert _files(node) == after
    assert _run(lab, events, name, "etcd_snapshot_delete", "chg-b", "fresh")["status"] == "succeeded"
    assert _files(node) == before

    # without a change there is no owner to mark: refused before anything is written
    orphan = _run(lab, events, name, "etcd_snapshot", None, "orphan")
    assert orphan["status"] == "failed" and orphan["exit_code"] == 2
    assert _files(node) == before
