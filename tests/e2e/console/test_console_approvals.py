"""Approvals in a browser on a change the platform can run today (``node.update`` on a
member of the lab cluster, through the executor's Kubernetes jobs): the requester sees no
approve button on their own change; an approver approves the gate with a comment; the
timeline finishes while the page stays open; the label is on the node in the lab API. A
rejection shows who rejected and why; a cancel asks first, and shows the gate cancelled."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from .change_page import NAVIGATION_MS, TERMINAL, approve, status, submit_plan, wait_live, wait_status

# Longer than the suite's 300 s: the package's platform starts inside the first test's timeout; each wait
# inside ends as soon as the page shows it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _wait_until_the_orchestrator_knows_the_member(platform, node: str, timeout: float = 240) -> None:
    """Membership reaches the orchestrator as inventory events, behind the start-up sync's
    10,000 machine events: wait (dry runs change nothing) until it plans, or say why not."""
    body = {"type": "node.update", "cluster": platform.cluster, "targets": [node],
            "params": {"labels": {"console-e2e": "probe"}}, "dry_run": True}
    deadline = time.monotonic() + timeout
    with platform.api("operator") as api:
        while True:
            r = api.post("changes", json=body)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(3)
    if r.status_code != 200:
        pytest.xfail(f"the orchestrator did not learn {node}'s membership of {platform.cluster} from "
                     f"inventory within {timeout:.0f} s: {r.json().get('detail')}")


def _member(platform) -> str:
    """A member of the lab cluster the orchestrator can plan a node.update on."""
    members: list = []
    deadline = time.monotonic() + 180
    with platform.api("viewer") as api:
        while not members and time.monotonic() < deadline:
            members = api.get("machines", params={"cluster": platform.cluster}).json()["items"]
            time.sleep(0 if members else 3)
    if not members:
        pytest.xfail(f"the lab cluster's import from its Kubernetes API gave no members in time "
                     f"(inventory import job: {platform.import_report})")
    node = members[0]["hostname"]
    _wait_until_the_orchestrator_knows_the_member(platform, node)
    return node


def _request_label(page, platform, node: str, value: str) -> str:
    """Ask for a node.update setting a label, from the Machines page; the change's URL,
    once it waits at its approval gate."""
    page.goto(f"{platform.console}/ui/machines?cluster={platform.cluster}")
    page.check(f"[data-machine={node}] input[name=targets]")
    page.click("button[data-action=update]")
    page.select_option("select[name=cluster]", platform.cluster)
    page.fill("textarea[name=labels]", f"console-e2e={value}")
    change_url = submit_plan(page)
    wait_live(page)
    assert wait_status(page, [*TERMINAL, "awaiting_approval"], 90_000) == "awaiting_approval", \
        page.locator("#live").inner_text()
    return change_url


def test_requester_has_no_approve_button_and_an_approver_finishes_the_change_live(sign_in, platform, shot):
    node = _member(platform)
    value = uuid.uuid4().hex[:8]
    operator = sign_in("operator")
    change_url = _request_label(operator, platform, node, value)
    assert operator.locator("[data-test=approve]").count() == 0
    assert operator.locator("[data-test=own-change]").is_visible()
    operator.evaluate("window.__noReload = true")
    shot(operator, "change-own-no-approve")

    approver = sign_in("approver")
    approver.goto(change_url)
    approve(approver, change_url, "checked the label in the browser")
    assert wait_status(approver, TERMINAL, 120_000) == "succeeded", approver.locator("#live").inner_text()
    assert approver.evaluate("window.__noReload") is True  # finished live, no reload
    shot(approver, "change-approved-finished")
    with platform.api("viewer") as api:
        approvals = api.get(f"changes/{change_url.rsplit('/', 1)[-1]}").json()["approvals"]
    assert [(a["by"], a["decision"], a["comment"]) for a in approvals if not a["automatic"]] == \
        [(platform.subject("approver"), "approve", "checked the label in the browser")]

    # the requester's open page followed along too, without a reload
    assert wait_status(operator, TERMINAL, 90_000) == "succeeded"
    assert operator.evaluate("window.__noReload") is True

    kubeconfig = yaml.safe_load(Path(platform.lab_cluster(platform.cluster)["kubeconfig"]).read_text())
    with config.new_client_from_config_dict(kubeconfig) as api:
        labels = client.CoreV1Api(api).read_node(node).metadata.labels
    assert labels.get("console-e2e") == value


def test_a_rejection_shows_who_and_why_and_a_cancel_is_confirmed_and_shown_as_cancelled(sign_in, platform, shot):
    """Console review: a cancel showed the gate "rejected", Cancel had no confirmation and
    was offered to users the orchestrator then refused, the rejection reason was buried in
    History."""
    node = _member(platform)
    operator = sign_in("operator")
    rejected_url = _request_label(operator, platform, node, "rejected")
    bystander = sign_in("operator2")  # an operator who neither asked nor approves
    bystander.goto(rejected_url)
    wait_live(bystander)
    assert bystander.locator("[data-test=cancel]").count() == 0, "the orchestrator would refuse them"

    approver = sign_in("approver")
    approver.goto(rejected_url)
    wait_live(approver)
    approver.fill("[data-test=decide] input[name=comment]", "wrong rack for this label")
    with approver.expect_navigation(timeout=NAVIGATION_MS):
        approver.click("[data-test=reject]")
    wait_live(approver)
    assert wait_status(approver, TERMINAL, 120_000) == "cancelled"
    rejection = approver.locator("[data-test=rejection]")
    assert "wrong rack for this label" in rejection.inner_text(), approver.locator("#live").inner_text()
    assert approver.locator("[data-step=approve]").get_attribute("data-step-status") == "rejected"
    shot(approver, "change-rejected-reason")

    cancelled_url = _request_label(operator, platform, node, "cancelled")
    asked: list[str] = []
    operator.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    operator.click("[data-test=cancel]")
    assert asked and "compensated" in asked[0], asked
    assert status(operator) == "awaiting_approval", "a dismissed confirmation cancels nothing"
    operator.once("dialog", lambda d: d.accept())
    with operator.expect_navigation(timeout=NAVIGATION_MS):
        operator.click("[data-test=cancel]")
    assert operator.url == cancelled_url, operator.locator("main").inner_text()
    wait_live(operator)
    assert wait_status(operator, TERMINAL, 120_000) == "cancelled"
    assert operator.locator("[data-step=approve]").get_attribute("data-step-status") == "cancelled"
    assert operator.locator("[data-test=rejection]").count() == 0, "nobody rejected it"
    shot(operator, "change-cancelled")


def _inbox_count(page) -> int | None:
    count = page.locator("[data-inbox]").get_attribute("data-count")
    return int(count) if count is not None else None


def test_the_inbox_count_moves_when_a_gate_opens_in_another_browser_and_the_inbox_lists_it(
        sign_in, platform, shot):
    """The approver's header count goes up, without a reload, when an operator in another
    browser context asks for a change; the inbox lists it with who asked and how long it
    has waited, and leads to the change; once it is cancelled the count goes back."""
    node = _member(platform)
    approver = sign_in("approver")
    approver.goto(f"{platform.console}/ui/machines")
    approver.wait_for_function("document.querySelector('[data-inbox]').dataset.count !== undefined")
    before = _inbox_count(approver)
    approver.evaluate("window.__noReload = true")

    operator = sign_in("operator")
    change_url = _request_label(operator, platform, node, "inbox")
    change_id = change_url.rsplit("/", 1)[-1]
    approver.wait_for_function(f"Number(document.querySelector('[data-inbox]').dataset.count) === {before + 1}",
                               timeout=30_000)
    assert approver.evaluate("window.__noReload") is True, "the count moved without a reload"
    shot(approver, "inbox-count")

    approver.click("[data-test=inbox]")
    approver.wait_for_url("**/ui/approvals")
    row = approver.locator(f"[data-waiting={change_id}]")
    text = row.inner_text()
    assert "node.update" in text and node in text and "operator" in text and " s" in text, text
    assert approver.locator("[data-test=inbox-total]").inner_text() == str(before + 1)
    shot(approver, "inbox")
    with platform.api("operator") as api:  # operator's own page shows nothing to decide for this change
        assert api.post(f"changes/{change_id}:cancel").status_code == 200
    approver.goto(f"{platform.console}/ui/machines")
    approver.wait_for_function(f"Number(document.querySelector('[data-inbox]').dataset.count) === {before}",
                               timeout=30_000)
    operator.goto(f"{platform.console}/ui/approvals")
    assert operator.locator(f"[data-waiting={change_id}]").count() == 0
