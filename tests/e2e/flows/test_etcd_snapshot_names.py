"""H6 on the lab's RKE1 cluster through the real services: an ``etcd.snapshot`` whose name
one etcd node already keeps (the known-good backup) is refused by its ``name_free`` check,
which only lists snapshots; no node receives a snapshot or a delete, and the backup is
byte for byte what it was."""
from __future__ import annotations

from .conftest import Platform

SNAPSHOTS = "/opt/rke/etcd-snapshots"


def test_h6_an_existing_snapshot_name_is_refused_on_the_lab_cluster_and_the_backup_kept(clean_logs: Platform):
    p = clean_logs
    etcd = sorted(h for h, roles in p.members("rke1-lab").items() if "etcd" in roles)
    keeper = etcd[1]
    backup = f"{SNAPSHOTS}/e2e-known-good.tar.gz"
    p.lab.machine(keeper).exec_in(["sh", "-c", f"mkdir -p {SNAPSHOTS} && printf known-good > {backup}"])

    r = p.change(type="etcd.snapshot", cluster="rke1-lab", params={"snapshot_name": "e2e-known-good"})
    assert r.status_code == 201, r.text
    change = p.wait_change(r.json()["id"], "failed", timeout=120)
    assert change["problem"]["slug"] == "snapshot-exists", change

    assert p.lab.machine(keeper).exec_in(["cat", backup]).stdout == "known-good"
    for h in set(etcd) - {keeper}:
        assert p.lab.machine(h).exec_in(["test", "-e", backup], check=False).returncode == 1, h
    sent = {h: p.lab.machine(h).command_log() for h in etcd}
    assert all(len(log) == 1 and "AUTORKE_SCRIPT=etcd_snapshot_list " in log[0].command for log in sent.values()), \
        {h: [c.command for c in log] for h, log in sent.items()}
    assert set(p.touched()) == set(etcd), p.touched()
    assert [j["action"] for j in p.jobs(change["id"])] == ["etcd_snapshot_list"]
