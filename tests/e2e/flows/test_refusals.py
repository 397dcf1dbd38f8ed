"""Issue 7, must-show 2: refusals before anything is touched, each with its own problem
type, through the real services on the lab: a machine of another cluster (P1), a machine
with Kubernetes components for ``machine.init`` (P2: known to the inventory as a member,
or found by the live probe), the ``etcd`` role through ``node.add`` (P4), and the requester
approving their own change. The machines' command logs show nothing was sent (for the
live probe: the read-only probe and nothing after it)."""
from __future__ import annotations

from .conftest import Platform


def problem(r) -> str:
    return r.json()["type"].rsplit("/", 1)[-1]


def test_p1_machine_of_another_cluster_refused_untouched(clean_logs: Platform):
    p = clean_logs
    rke1_worker = next(h for h, roles in p.members("rke1-lab").items() if roles == ["worker"])
    r = p.change(type="node.add", cluster="rke2-lab", targets=[rke1_worker], params={"role": "worker"})
    assert r.status_code == 409 and problem(r) == "machine-in-other-cluster", r.text
    assert p.touched() == {}


def test_p2_member_refused_for_machine_init_untouched(clean_logs: Platform):
    p = clean_logs
    agent = next(h for h, roles in p.members("rke2-lab").items() if roles == ["worker"])
    r = p.change(type="machine.init", targets=[agent], params={"profile": "base"})
    assert r.status_code == 409 and problem(r) == "machine-has-k8s-components", r.text
    assert p.touched() == {}


def test_p2_live_probe_refuses_init_before_anything_is_written(clean_logs: Platform):
    p = clean_logs
    host = p.free()[-2]
    p.lab.machine(host).exec_in(["mkdir", "-p", "/etc/kubernetes/ssl"])  # not over SSH: no log entry
    try:
        r = p.change(type="machine.init", targets=[host], params={"profile": "base"})
        assert r.status_code == 201, r.text
        done = p.wait_change(r.json()["id"], "failed", timeout=120)
        assert done["problem"]["type"].endswith("/machine-has-k8s-components"), done
        assert all(a["decision"] != "approve" for a in done["approvals"]), "refused before the approval gate"
        sent = [c.command for c in p.lab.machine(host).command_log()]
        assert sent and all("AUTORKE_SCRIPT=probe" in c for c in sent), f"only the read-only probe ran: {sent}"
        assert set(p.touched()) == {host}
    finally:
        p.lab.machine(host).exec_in(["rm", "-rf", "/etc/kubernetes"])


def test_p4_etcd_role_through_node_add_refused_untouched(clean_logs: Platform):
    p = clean_logs
    r = p.change(type="node.add", cluster="rke2-lab", targets=[p.free()[-1]], params={"role": "etcd"})
    assert r.status_code == 422 and problem(r) == "role-not-allowed", r.text
    assert p.touched() == {}


def test_requester_cannot_approve_their_own_change(clean_logs: Platform):
    p = clean_logs
    member = next(h for h, roles in p.members("rke2-lab").items() if roles == ["worker"])
    r = p.change(type="node.update", cluster="rke2-lab", targets=[member], params={"labels": {"team": "e2e"}})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    p.wait_change(cid, "awaiting_approval", timeout=60)
    own = p.approve(cid, user="operator")
    assert own.status_code == 403 and problem(own) == "self-approval", own.text
    assert p.get_change(cid)["status"] == "awaiting_approval"
    cancel = p.call(p.orchestrator, "POST", f"/api/v1/changes/{cid}:cancel", "operator")
    assert cancel.status_code == 200, cancel.text
    p.wait_change(cid, "cancelled", timeout=60)
    assert p.touched() == {}
