"""Issue 15, H1 / H2 / M5 through the real inventory, orchestrator and bus on the lab:
options from an allow-list (refused with the field, nothing stored), and an options
change, a config rollback (and the rkestate import the platform fixture makes) that are
changes: 202 with the change, nothing current until another user approves it (an admin
for the cluster's keys), the real diff in the change's preview step, and what a viewer
reads of configs redacted."""
from __future__ import annotations

from .conftest import Platform

CLUSTER = "rke1-lab"


def problem(r) -> str:
    return r.json()["type"].rsplit("/", 1)[-1]


def cluster(p: Platform) -> tuple[dict, str]:
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/{CLUSTER}", "viewer")
    assert r.status_code == 200, r.text
    return r.json(), r.headers["ETag"]


def patch_options(p: Platform, options: dict, etag: str):
    return p.inventory.patch(f"/api/v1/clusters/{CLUSTER}", json={"options": options},
                             headers={**p.identity.headers("operator"), "If-Match": etag})


def versions(p: Platform, kind: str) -> list[dict]:
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/{CLUSTER}/configs/{kind}", "viewer")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_h1_options_with_nodes_bastion_ssh_key_or_addons_are_refused_and_nothing_is_stored(platform: Platform):
    p = platform
    before, etag = cluster(p)
    for options, field in [({"nodes": [{"address": "10.9.9.9", "user": "root", "role": ["worker"]}]}, "options.nodes"),
                           ({"bastion_host": {"address": "10.9.9.9"}}, "options.bastion_host"),
                           ({"ssh_key_path": "/etc/shadow"}, "options.ssh_key_path"),
                           ({"addons": "kind: ClusterRoleBinding"}, "options.addons")]:
        r = patch_options(p, options, etag)
        assert r.status_code == 422 and problem(r) == "invalid-cluster-options", r.text
        assert r.json()["field"] == field, r.text
    after, _ = cluster(p)
    assert (after["options"], after["version"]) == (before["options"], before["version"])


def test_h1_an_options_change_is_a_change_whose_preview_shows_the_real_diff(platform: Platform):
    p = platform
    before, etag = cluster(p)
    yml_before = versions(p, "cluster.yml")
    r = patch_options(p, {"ignore_docker_version": True}, etag)
    assert r.status_code == 202 and r.json()["type"] == "config.update", r.text
    assert r.headers["Location"] == f"/api/v1/changes/{r.json()['id']}"
    change = p.wait_change(r.json()["id"], "awaiting_approval", timeout=120)
    assert change["requested_by"] == p.identity.subject("operator")
    preview = change["plan"]["steps"][0]["preview"]
    diff = next(d for d in preview["diffs"] if d["kind"] == "cluster.yml")["diff"]
    assert "+ignore_docker_version: true" in diff and "hostname_override" in diff, diff
    assert cluster(p)[0]["options"] == before["options"] and versions(p, "cluster.yml") == yml_before

    r = p.approve(change["id"], "approve", "operator")
    assert r.status_code == 403 and problem(r) == "self-approval", r.text
    assert p.approve(change["id"], "approve", "approver").status_code == 200
    p.wait_change(change["id"], "succeeded", timeout=120)
    assert cluster(p)[0]["options"] == {**before["options"], "ignore_docker_version": True}
    latest = versions(p, "cluster.yml")[-1]
    assert (latest["change_id"], len(versions(p, "cluster.yml"))) == (change["id"], len(yml_before) + 1)


def test_h2_a_rollback_is_a_change_and_nothing_is_current_until_it_is_approved(platform: Platform):
    p = platform
    before = versions(p, "cluster.yml")
    r = p.call(p.inventory, "POST", f"/api/v1/clusters/{CLUSTER}/configs/cluster.yml:rollback", "operator",
               json={"to": 1})
    assert r.status_code == 202 and r.json()["type"] == "config.rollback", r.text
    change = p.wait_change(r.json()["id"], "awaiting_approval", timeout=120)
    assert versions(p, "cluster.yml") == before
    assert p.approve(change["id"], "approve", "approver").status_code == 200
    p.wait_change(change["id"], "succeeded", timeout=120)
    latest = versions(p, "cluster.yml")[-1]
    assert (latest["rollback_of"], latest["change_id"]) == (1, change["id"])


def test_h2_a_non_admin_cannot_approve_an_rkestate_rollback(platform: Platform):
    p = platform
    before = versions(p, "cluster.rkestate")
    r = p.call(p.inventory, "POST", f"/api/v1/clusters/{CLUSTER}/configs/cluster.rkestate:rollback", "operator",
               json={"to": before[0]["version"]})
    assert r.status_code == 202, r.text
    change = p.wait_change(r.json()["id"], "awaiting_approval", timeout=120)
    assert change["waiting_for"].startswith("approval of step approve_admin")
    r = p.approve(change["id"], "approve_admin", "approver")
    assert r.status_code == 403 and problem(r) == "forbidden", r.text
    r = p.call(p.orchestrator, "POST", f"/api/v1/changes/{change['id']}:cancel", "operator")
    assert r.status_code == 200, r.text
    p.wait_change(change["id"], "cancelled", timeout=60)
    assert versions(p, "cluster.rkestate") == before


def test_m5_a_viewer_reads_configs_redacted(platform: Platform):
    p = platform
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/{CLUSTER}/configs/cluster.yml:render", "viewer")
    assert r.status_code == 200 and r.json()["redacted"] is True, r.text
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/{CLUSTER}/configs/cluster.rkestate/1", "viewer")
    assert r.status_code == 200 and "BEGIN" not in r.json()["content"], r.text
    r = p.call(p.inventory, "GET", f"/api/v1/clusters/{CLUSTER}/configs/cluster.yml:render?reveal=true", "viewer")
    assert r.status_code == 403, r.text
