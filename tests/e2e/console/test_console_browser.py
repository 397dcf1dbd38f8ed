"""The console in a real browser against the running platform and the lab: sign-in
through the identity provider, every page (with a screenshot under tests/e2e/artifacts/),
adding two machines to the lab cluster from the Machines page with the plan shown first,
the live timeline, approvals by someone else, and IP pool validation next to the field."""
from __future__ import annotations

import re

import pytest

from .change_page import show_plan

pytestmark = pytest.mark.slow
LAB_CLUSTER = "rke2-lab"


def test_every_page_renders_for_a_signed_in_operator(sign_in, platform, shot):
    page = sign_in("operator")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(platform.console + icon).headers["content-type"].startswith("image/svg+xml")
    page.goto(f"{platform.console}/ui/machines")
    rows = page.locator("[data-test=machines] tbody tr")
    assert rows.count() == 50  # a page of 50 out of the CMDB's thousands (the sync may still be running)
    assert int(page.locator("h1 small").inner_text().split()[0].replace(",", "")) > 50
    shot(page, "machines")
    page.fill("input[name=q]", "m00")
    page.select_option("select[name=limit]", "25")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*q=m00.*"))
    assert all(h.startswith("m00") for h in page.locator("[data-machine]").evaluate_all(
        "rows => rows.map(r => r.dataset.machine)"))
    shot(page, "machines-filtered")
    page.click("[data-machine=m001] a")
    page.wait_for_url("**/ui/machines/**")
    assert "m001" in page.locator("h1").inner_text()
    shot(page, "machine-detail")
    for name, path, marker in (("clusters", "/ui/clusters", "[data-test=clusters]"),
                               ("cluster", f"/ui/clusters/{LAB_CLUSTER}", "[data-test=nodes]"),
                               ("changes", "/ui/changes", "[data-test=changes]"),
                               ("network", f"/ui/network?cluster={LAB_CLUSTER}", "[data-test=pools]"),
                               ("events", "/ui/events", "[data-test=feed]")):
        page.goto(platform.console + path)
        page.wait_for_selector(marker)
        assert page.locator("[data-test=unavailable]").count() == 0, f"{name}: a service did not answer"
        shot(page, name)
        if name == "changes" and page.locator("[data-test=changes] tbody a").count():
            page.click("[data-test=changes] tbody a >> nth=0")   # the newest change's page
            page.wait_for_url("**/ui/changes/chg-*")
            page.wait_for_selector("[data-test=timeline]")
            shot(page, "change")
    page.click("[data-test=lang]")
    page.wait_for_selector("text=机器")
    shot(page, "events-zh")


def test_the_dashboard_is_the_landing_page_and_its_counts_equal_the_apis(sign_in, platform, shot):
    page = sign_in("approver")  # sign_in waits for the landing page: the dashboard
    shot(page, "dashboard")
    with platform.api("viewer") as api:
        clusters = api.get("clusters").json()["items"]
        for c in clusters:
            nodes = api.get(f"clusters/{c['name']}/nodes", params={"limit": 500}).json()["items"]
            row = page.locator(f"[data-test=cluster-health] [data-cluster={c['name']}]")
            assert int(row.locator("[data-count=members]").inner_text()) == len(nodes), c["name"]
            ready = sum(1 for n in nodes if ((n.get("kubernetes") or {}).get("node") or {}).get("status") == "Ready")
            assert int(row.locator("[data-count=ready]").inner_text()) == ready, c["name"]
        for status in ("failed", "partially_failed", "awaiting_approval"):
            shown = page.locator(f"[data-test=change-counts] [data-status={status}]").get_attribute("data-count")
            assert int(shown) == len(api.get("changes", params={"status": status, "limit": 500}).json()["items"])
        members = api.get("machines", params={"state": "member", "limit": 1}).json()["total"]
    shown = page.locator("[data-test=machine-states] [data-state=member]").get_attribute("data-count")
    assert int(shown.replace(",", "")) == members
    page.click("[data-test=lang]")
    page.wait_for_selector("text=概览")
    shot(page, "dashboard-zh")


def _cluster_health(platform) -> dict[str, tuple[str, int, int, int]]:
    """name -> (provider, Ready members, NotReady members, members), as the API says now."""
    out = {}
    with platform.api("viewer") as api:
        for c in api.get("clusters").json()["items"]:
            nodes = api.get(f"clusters/{c['name']}/nodes", params={"limit": 500}).json()["items"]
            seen = [((n.get("kubernetes") or {}).get("node") or {}).get("status") for n in nodes]
            out[c["name"]] = (c["provider"], seen.count("Ready"), seen.count("NotReady"), len(nodes))
    return out


def test_the_cluster_list_shows_each_clusters_type_health_and_nodes_as_the_api_does(sign_in, platform, shot):
    page = sign_in("viewer")
    for _ in range(5):  # compared only while the API says the same before and after the page (a node may flip)
        before = _cluster_health(platform)
        page.goto(f"{platform.console}/ui/clusters")
        if _cluster_health(platform) == before:
            break
    else:
        pytest.fail("the clusters' nodes kept changing")
    for name, (provider, ready, not_ready, members) in before.items():
        row = page.locator(f"[data-test=clusters] [data-cluster={name}]")
        assert row.locator("[data-test=type]").inner_text() == {"rke": "RKE1", "rke2": "RKE2"}[provider]
        assert row.locator("[data-test=nodes] span").inner_text() == f"{ready} / {members}"
        status = row.locator("[data-test=status] .badge").get_attribute("data-status")
        want = "empty" if not members else "degraded" if not_ready else "healthy" if ready == members else \
            "degraded" if ready else "unknown"
        assert status == want, (name, status, before[name])
    shot(page, "clusters-list")

    page.click(f"[data-test=clusters] [data-cluster={LAB_CLUSTER}] a")  # an RKE2 cluster: its overview, no RKE1 tabs
    page.wait_for_selector("[data-test=overview]")
    assert page.locator("[data-test=overview] [data-test=type]").inner_text() == "RKE2"
    assert page.locator("a[href*='kind=cluster.yml'], a[href*='kind=cluster.rkestate']").count() == 0
    shot(page, "cluster-overview")
    node = page.locator("[data-test=nodes] [data-test=node-machine]").first
    name = node.inner_text()
    node.click()
    page.wait_for_url("**/ui/machines/**")
    assert name in page.locator("h1").inner_text(), "a node name leads to its machine"


def test_p7_an_invalid_ip_pool_shows_the_message_next_to_the_cidr_field(sign_in, platform, shot):
    page = sign_in("operator")
    page.goto(f"{platform.console}/ui/network?cluster={LAB_CLUSTER}")
    service_cidr = platform.lab_cluster(LAB_CLUSTER)["service_cidr"]
    page.fill("[data-test=pool-form] input[name=name]", "overlapping")
    page.fill("[data-test=pool-form] input[name=cidr]", service_cidr)
    page.click("[data-test=save-pool]")
    error = page.locator("[data-field-error=cidr]")
    error.wait_for()
    assert "service CIDR" in error.inner_text()
    # next to the field: in the same form row as the CIDR input, and the input is marked invalid
    row = page.locator("[data-test=pool-form] .field", has=page.locator("input[name=cidr]"))
    assert row.locator("[data-field-error=cidr]").count() == 1
    assert page.locator("input[name=cidr]").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=cidr]").input_value() == service_cidr  # what was typed is kept
    shot(page, "network-invalid-pool")
    with platform.api("viewer") as api:
        names = [p["name"] for p in api.get(f"clusters/{LAB_CLUSTER}/ippools", params={"limit": 500}).json()["items"]]
    assert "overlapping" not in names  # and nothing was created


def _new_members(platform, count: int) -> list[dict]:
    """Free lab machines (running, reachable, in no cluster) to add."""
    used = {n["hostname"] for c in platform.lab["components"]["clusters"]["clusters"] for n in c["nodes"]}
    lab_names = {m["name"] for m in platform.lab["machines"]} - used
    with platform.api("viewer") as api:
        items = api.get("machines", params={"state": "available", "q": "m00", "limit": 50}).json()["items"]
    free = [m for m in items if m["hostname"] in lab_names and not m.get("cluster")]
    assert len(free) >= count, f"need {count} free lab machines, found {[m['hostname'] for m in free]}"
    return free[:count]


def test_operator_adds_two_machines_and_sees_the_plan_then_a_live_timeline(sign_in, platform, shot):
    """From the Machines page: select two, Add to cluster, the form's defaults, the plan
    (blast radius = exactly those two), submit, and the timeline moves without a reload."""
    machines = _new_members(platform, 2)
    page = sign_in("operator")
    page.goto(f"{platform.console}/ui/machines?q=m00&limit=25")
    for m in machines:
        page.check(f"[data-machine={m['hostname']}] input[name=targets]")
    assert page.locator("#selected-count").inner_text() == "2"
    page.click("button[data-action=add]")
    page.wait_for_url("**/ui/actions/add**")
    assert page.locator("select[name=role]").input_value() == "worker"               # default
    assert page.locator("input[name=config][value=default]").is_checked()             # default config
    page.select_option("select[name=cluster]", LAB_CLUSTER)
    shot(page, "action-form")
    show_plan(page)
    hosts = page.locator("[data-test=blast-hosts]").inner_text()
    assert sorted(h.strip() for h in hosts.split(",")) == sorted(m["id"] for m in machines) or \
        sorted(h.strip() for h in hosts.split(",")) == sorted(m["hostname"] for m in machines)
    shot(page, "plan")
    with platform.api("viewer") as api:
        before = len(api.get("changes").json()["items"])
    page.click("[data-test=submit-change]")
    page.wait_for_url("**/ui/changes/chg-*")
    with platform.api("viewer") as api:
        assert len(api.get("changes").json()["items"]) == before + 1  # the plan created nothing
    page.evaluate("window.__noReload = true")
    page.wait_for_function("document.getElementById('live').dataset.refreshed !== undefined", timeout=30_000)
    guard = page.locator("[data-step=guard]")
    page.wait_for_function("document.querySelector('[data-step=guard]').dataset.stepStatus !== 'pending'",
                           timeout=30_000)
    assert guard.get_attribute("data-step-status") in ("succeeded", "failed")
    assert page.evaluate("window.__noReload") is True  # the same document: no reload happened
    shot(page, "change-live")
