"""The must-show flow in a browser: an operator adds two machines to the lab cluster from
the Machines page; the operator gets no approve button on their own change; an approver
approves each gate; the timeline finishes without a reload; both nodes are Ready — in the
flow's Ready step on the change page and in the lab Kubernetes API read with the official
client — and listed on the cluster page, Ready there too (the inventory reads the nodes'
status through the executor when membership changes; the page updates live)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from playwright.sync_api import expect

from .change_page import approve, show_plan, status, wait_gate_or_end, wait_live, wait_status

# Longer than the suite's 300 s: two joins and every gate on a loaded machine; each wait inside ends as soon
# as the page shows it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _free_lab_machines(platform, count: int) -> list[str]:
    used = {n["hostname"] for c in platform.lab["components"]["clusters"]["clusters"] for n in c["nodes"]}
    lab_names = {m["name"] for m in platform.lab["machines"]} - used
    with platform.api("viewer") as api:
        items = api.get("machines", params={"state": "available", "q": "m00", "limit": 50}).json()["items"]
    free = [m["hostname"] for m in items if m["hostname"] in lab_names and not m.get("cluster")]
    assert len(free) >= count, f"need {count} free lab machines, found {free}"
    return sorted(free)[-count:]


def test_operator_adds_two_nodes_approver_approves_and_both_become_ready(sign_in, platform, shot):
    hosts = _free_lab_machines(platform, 2)
    operator = sign_in("operator")
    operator.goto(f"{platform.console}/ui/machines?q=m00&limit=25")
    for host in hosts:
        operator.check(f"[data-machine={host}] input[name=targets]")
    operator.click("button[data-action=add]")
    operator.select_option("select[name=cluster]", platform.cluster)
    # the cluster's node profiles to pick from, its default chosen (issue 18)
    expect(operator.locator("select[name=node_profile]")).to_have_value("default")
    show_plan(operator)
    # what each node will get, before anything is submitted: its labels from the CMDB
    diff = operator.locator("body").inner_text()
    assert "node profile default" in diff and all(f"# {h}" in diff for h in hosts), diff
    assert "topology.kubernetes.io/zone=" in diff, diff
    operator.click("[data-test=submit-change]")
    operator.wait_for_url("**/ui/changes/chg-*")
    change_url = operator.url

    # the requester waits for approval and has no approve button
    wait_live(operator)
    assert wait_status(operator, ["awaiting_approval", "failed", "cancelled"], 90_000) == "awaiting_approval", \
        operator.locator("#live").inner_text()
    assert operator.locator("[data-test=approve]").count() == 0
    assert operator.locator("[data-test=own-change]").is_visible()
    shot(operator, "change-awaiting-own")

    approver = sign_in("approver")
    approver.goto(change_url)
    decided: list[str] = []
    while (gate := wait_gate_or_end(approver, decided, 300_000)) is not None:
        shot(approver, f"change-gate-{len(decided) + 1}")
        decided.append(approve(approver, change_url, f"gate {len(decided) + 1} checked in the browser"))
        assert decided[-1] == gate
    assert decided
    # the timeline finished while the page stayed open (no reload since the last approval)
    assert approver.evaluate("window.__noReload") is True
    assert status(approver) == "succeeded", approver.locator("#live").inner_text()
    steps = approver.locator("[data-test=timeline] li").evaluate_all("els => els.map(e => e.dataset.stepStatus)")
    assert steps and all(s in ("succeeded", "skipped") for s in steps), steps
    shot(approver, "change-succeeded")

    # both nodes Ready, as the flow's own check saw them (the step names each node's result)
    ready = approver.locator("[data-test=timeline] [data-step=ready]")
    assert ready.get_attribute("data-step-status") == "succeeded"
    assert "2/2" in ready.inner_text(), ready.inner_text()
    for host in hosts:
        assert approver.locator(f"[data-test=results] [data-target={host}] .badge").get_attribute(
            "data-status") == "succeeded"

    # every host's stored result stays on the page after a reload (exit code, output), and downloads
    approver.reload()
    preflight = approver.locator("[data-test=job-output] [data-job][data-step=preflight]").last
    for host in hosts:
        row = preflight.locator(f"[data-host={host}]")
        assert row.get_attribute("data-status") == "succeeded"
        assert row.locator("[data-test=exit-code]").text_content().strip() == "0"  # in a closed <details>
    link = preflight.locator(f"[data-host={hosts[0]}] [data-test=download-host]").get_attribute("href")
    text = approver.request.get(platform.console + link).text()
    assert text.startswith("=====") and f" {hosts[0]}: succeeded, exit 0" in text and hosts[1] not in text, text[:300]
    everything = approver.request.get(platform.console + approver.locator("[data-test=download-all]").get_attribute(
        "href")).text()
    assert all(f" {h}: " in everything for h in hosts) and everything.count("=====") >= 2 * 2 * len(hosts)
    shot(approver, "change-job-output")

    # members of the cluster now, as workers, and Ready as the inventory read them from the
    # cluster's API (recording the membership asked for that reading; the page updates live)
    approver.goto(f"{platform.console}/ui/clusters/{platform.cluster}")
    for host in hosts:
        assert approver.locator(f"[data-test=nodes] [data-node={host}]").count() == 1
        assert "worker" in approver.locator(f"[data-test=nodes] [data-node={host}]").inner_text()
    for host in hosts:
        expect(approver.locator(f"[data-test=nodes] [data-node={host}] .badge").first).to_have_attribute(
            "data-status", "Ready", timeout=120_000)
        assert approver.locator(f"[data-test=nodes] [data-node={host}] [data-test=kubelet]").inner_text()
    shot(approver, "cluster-nodes-added")

    kubeconfig = yaml.safe_load(Path(platform.lab_cluster(platform.cluster)["kubeconfig"]).read_text())
    with config.new_client_from_config_dict(kubeconfig) as api:
        nodes = {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}
    for host in hosts:
        ready = next(c.status for c in nodes[host].status.conditions if c.type == "Ready")
        assert ready == "True"
