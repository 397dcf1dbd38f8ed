"""``etcd.snapshot`` then ``etcd.restore`` on the RKE1 lab cluster through the public API
(P6): only the etcd nodes receive SSH commands; workers and every other machine none."""
from __future__ import annotations

import pytest

from .conftest import Platform

pytestmark = pytest.mark.slow
MARKER = "/var/lib/etcd/member/autorke-journey-marker"


@pytest.mark.timeout(480)
def test_p6_etcd_snapshot_and_restore_touch_etcd_nodes_only(clean_logs: Platform):
    p = clean_logs
    members = p.members("rke1-lab")
    etcd = sorted(h for h, roles in members.items() if "etcd" in roles)
    others = sorted(set(members) - set(etcd))
    assert etcd and others, members
    # the etcd data a snapshot must bring back, written host-side (the lab's rke stand-in
    # leaves /var/lib/etcd empty: its etcd is a placeholder container)
    for h in etcd:
        p.exec_in(h, f"mkdir -p {MARKER.rsplit('/', 1)[0]} && echo before > {MARKER}")

    r = p.change(type="etcd.snapshot", cluster="rke1-lab", params={"snapshot_name": "journey-snap"})
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["blast_radius"]["hosts"] == etcd
    p.wait_change(r.json()["id"], "succeeded", timeout=180)
    for h in etcd:
        assert any("AUTORKE_SCRIPT=etcd_snapshot" in c for c in p.commands(h)), p.commands(h)
    assert set(p.touched()) == set(etcd), f"P6: only etcd nodes receive commands: {p.touched()}"

    for h in etcd:
        p.exec_in(h, f"echo after > {MARKER}")
    p.clear_command_logs()
    r = p.change(type="etcd.restore", cluster="rke1-lab", params={"snapshot_name": "journey-snap"})
    assert r.status_code == 201, r.text
    assert r.json()["plan"]["blast_radius"]["hosts"] == etcd
    cid = r.json()["id"]
    p.wait_change(cid, "awaiting_approval", timeout=180)
    assert p.approve(cid, user="approver").status_code == 403, "a restore needs an admin"
    assert p.approve(cid, user="admin").status_code == 200
    p.wait_change(cid, "succeeded", timeout=300)
    for h in etcd:
        sent = p.commands(h)
        assert [s for s in ("etcd_stop", "etcd_restore", "etcd_start") if not any(f"AUTORKE_SCRIPT={s} " in c
                                                                                 for c in sent)] == [], sent
    assert {h: p.exec_in(h, f"cat {MARKER}").strip() for h in etcd} == {h: "before" for h in etcd}, \
        "the snapshot's data is back on every etcd node"
    touched = p.touched()
    assert set(touched) == set(etcd), f"P6: only etcd nodes receive commands: {touched}"
    assert not set(others) & set(touched), "workers and control-plane-only nodes untouched"
    assert {h: roles for h, roles in p.members("rke1-lab").items()} == members, "the cluster kept every node"
