"""Console pages in a real browser against the running platform (issue 19). The Machines
page: hostnames in natural order (m100 before m1000) across pages walked forward and back
with the range shown, a GPU found by a part of its model, state chips whose counts equal
the API's, and a row menu that opens, can be clicked, and offers only what the machine's
state allows. The Events page opens with the history the console kept; Swagger over the
merged API loads nothing from outside the console."""
from __future__ import annotations

import re

import pytest

from fixtures.waiting import wait

pytestmark = pytest.mark.slow
LAB_CLUSTER = "rke2-lab"


def _hostnames(page) -> list[str]:
    return page.locator("[data-machine]").evaluate_all("rows => rows.map(r => r.dataset.machine)")


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def test_hostnames_sort_naturally_across_pages_walked_forward_and_back(sign_in, platform, shot):
    with platform.api("viewer") as api:
        total = wait(lambda: (n := api.get("machines", params={"q": "m1", "limit": 1}).json()["total"]) > 60 and n,
                     180, "the CMDB sync brought machines named m1…")
    page = sign_in("operator")
    page.goto(f"{platform.console}/ui/machines?q=m1&limit=25&sort=hostname")
    first = _hostnames(page)
    assert first == sorted(first, key=_natural) and len(first) == 25, first  # m100, m101, …, not m100, m1000
    assert first[:2] == ["m100", "m101"], first
    assert page.locator("[data-test=range]").inner_text() == f"1–25 of {total:,}"
    page.click("[data-test=next-page]")
    page.wait_for_selector("[data-test=previous-page]")
    second = _hostnames(page)
    assert _natural(second[0]) > _natural(first[-1]) and second == sorted(second, key=_natural)
    assert page.locator("[data-test=range]").inner_text() == f"26–50 of {total:,}"
    shot(page, "machines-page-2")
    page.click("[data-test=previous-page]")
    page.wait_for_function("document.querySelector('[data-test=range]').innerText.startsWith('1–')")
    assert _hostnames(page) == first and page.locator("[data-test=previous-page]").count() == 0


def test_a_gpu_is_found_by_a_part_of_its_model_and_the_state_chips_count_as_the_api(sign_in, platform, shot):
    page = sign_in("viewer")
    page.goto(f"{platform.console}/ui/machines")
    page.fill("input[name=gpu_model]", "h800")  # the CMDB says "NVIDIA H800"
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r".*gpu_model=h800.*"))
    rows = page.locator("[data-test=machines] tbody tr td.facets:nth-of-type(6)")
    assert rows.count() > 0 and all("H800" in text for text in rows.all_inner_texts())
    with platform.api("viewer") as api:
        answer = api.get("machines", params={"gpu_model": "h800", "limit": 1}).json()
    chips = {c.get_attribute("data-state"): int(c.locator("b").inner_text().replace(",", ""))
             for c in page.locator("[data-test=state-counts] [data-state]").all()}
    assert chips == answer["state_counts"] and sum(chips.values()) == answer["total"] > 0
    shot(page, "machines-gpu-h800")


def _menu(page, hostname: str) -> list[str]:
    row = page.locator(f"[data-machine={hostname}]")
    row.locator(".actions-menu summary").click()
    items = row.locator(".actions-menu .menu a")
    items.first.wait_for(state="visible")
    return items.evaluate_all("links => links.map(a => a.dataset.action)")


def test_the_row_menu_opens_is_clickable_and_offers_only_the_states_actions(sign_in, platform, shot):
    page = sign_in("operator")
    with platform.api("viewer") as api:
        member = api.get("machines", params={"cluster": LAB_CLUSTER, "state": "member", "limit": 1}).json()["items"][0]
        free = api.get("machines", params={"state": "available", "q": "m00", "limit": 1}).json()["items"][0]
    page.goto(f"{platform.console}/ui/machines?q={free['hostname']}")
    assert _menu(page, free["hostname"]) == ["add", "init", "refresh"]
    page.goto(f"{platform.console}/ui/machines?cluster={LAB_CLUSTER}&state=member")
    assert _menu(page, member["hostname"]) == ["remove", "update", "refresh"]
    shot(page, "machines-row-menu")
    page.locator(f"[data-machine={member['hostname']}] .menu a[data-action=update]").click()
    page.wait_for_url("**/ui/actions/update**")
    assert member["hostname"] in page.content() and member["id"] not in page.locator("main").inner_text(), \
        "the form names the machine by its hostname"


def test_the_header_opens_swagger_over_the_merged_api_without_a_cdn(sign_in, platform):
    page = sign_in("viewer")
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(platform.console) else None)
    page.click("[data-test=api-docs]")
    page.wait_for_url("**/docs")
    page.wait_for_selector(".opblock-tag", timeout=30_000)
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any(t.startswith("inventory") for t in tags) and any(t.startswith("orchestrator") for t in tags), tags
    assert outside == [], f"the page reached outside the console: {outside}"


def test_the_events_page_opens_with_the_kept_history_and_filters_it(sign_in, platform, shot):
    page = sign_in("viewer")
    with platform.api("viewer") as api:
        wait(lambda: api.get("events/history", params={"limit": 5}).json()["items"], 120, "events kept")
    page.goto(f"{platform.console}/ui/events")
    rows = page.locator("[data-test=feed] tr[data-history]")
    assert rows.count() > 0, "history on open, before any live event"
    shown = rows.evaluate_all("rows => rows.map(r => r.dataset.event)")
    with platform.api("viewer") as api:
        newest = [e["id"] for e in api.get("events/history", params={"limit": 500}).json()["items"]]
    assert shown == [i for i in newest if i in set(shown)][:len(shown)] and set(shown) <= set(newest), \
        "the API's history, newest first"
    shot(page, "events-history")
    page.fill("#feed-filter input[name=subject]", "orchestrator.change.*")
    page.click("#feed-filter button[type=submit]")
    page.wait_for_url(re.compile(r".*subject=orchestrator.change.*"))
    with platform.api("viewer") as api:
        want = {e["id"]: e["type"] for e in api.get("events/history", params={
            "subject": "orchestrator.change.*", "limit": 500}).json()["items"]}
    filtered = page.locator("[data-test=feed] tr[data-history]").evaluate_all(
        "rows => rows.map(r => r.dataset.event)")
    assert filtered and set(filtered) <= set(want), "only the change events"
    page.fill("#feed-filter input[name=subject]", "a..b")
    page.click("#feed-filter button[type=submit]")
    assert "empty or blank token" in page.locator("[data-field-error=subject]").inner_text()


def test_an_admin_downloads_a_kubeconfig_and_the_read_is_in_the_audit_trail(sign_in, platform):
    admin = sign_in("admin")
    admin.goto(f"{platform.console}/ui/clusters/{LAB_CLUSTER}")
    link = admin.locator("[data-test=kubeconfig-download]").get_attribute("href")
    got = admin.request.get(platform.console + link)
    assert got.status == 200 and "attachment" in got.headers["content-disposition"]
    assert "apiVersion: v1" in got.text() and "clusters:" in got.text()
    viewer = sign_in("viewer")
    viewer.goto(f"{platform.console}/ui/clusters/{LAB_CLUSTER}")
    assert viewer.locator("[data-test=kubeconfig-download]").count() == 0
    assert viewer.request.get(platform.console + link).status == 403
    with platform.api("viewer") as api:
        read = wait(lambda: api.get("events/history", params={"type": "inventory.config.revealed",
                                                               "cluster": LAB_CLUSTER}).json()["items"],
                    60, "the kubeconfig read in the event history")
    assert read[0]["data"]["kind"] == "kubeconfig" and read[0]["data"]["by"] == platform.subject("admin")
