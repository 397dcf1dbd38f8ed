"""Pages against what is running: a service that is down is shown as such (never as
made-up data), and roles decide which buttons a user sees."""
from __future__ import annotations

from .servers import browser_sign_in


def test_a_page_for_a_service_that_is_down_says_so(console):
    with browser_sign_in(console.url, "operator") as browser:
        page = browser.get("/ui/network?cluster=lab")
        assert page.status_code == 200
        assert 'data-test="unavailable"' in page.text
        assert "The netcfg service is not reachable (503" in page.text
        assert 'data-test="pools"' not in page.text


def test_the_dashboard_is_where_a_user_lands_and_a_service_down_is_shown_as_such(console):
    with browser_sign_in(console.url, "viewer") as browser:
        landing = browser.get("/", follow_redirects=False)
        assert landing.status_code == 303 and landing.headers["location"] == "/ui/dashboard"
        page = browser.get("/ui/dashboard")
        assert page.status_code == 200
        assert 'data-test="waiting"' in page.text and ">Dashboard<" in page.text
        assert 'data-test="machine-states"' in page.text or 'data-test="unavailable"' in page.text


def test_operators_see_machine_actions_and_viewers_do_not(console):
    with browser_sign_in(console.url, "operator") as browser:
        page = browser.get("/ui/machines").text
        assert 'data-action="add"' in page and 'data-action="cleanup"' in page
    with browser_sign_in(console.url, "viewer") as browser:
        page = browser.get("/ui/machines").text
        assert 'data-test="machines"' in page and 'data-action="add"' not in page


def test_labels_switch_to_chinese_and_back(console):
    with browser_sign_in(console.url, "viewer") as browser:
        assert ">Machines<" in browser.get("/ui/machines").text
        browser.get("/ui/lang/zh")
        assert ">机器<" in browser.get("/ui/machines").text
        browser.get("/ui/lang/en")
        assert ">Machines<" in browser.get("/ui/machines").text


def test_an_action_form_with_a_bad_label_shows_the_error_next_to_the_field(console):
    with browser_sign_in(console.url, "operator") as browser:
        form = browser.get("/ui/actions/add", params={"targets": "m001", "cluster": "lab"}).text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        r = browser.post("/ui/actions/add", data={"csrf": csrf, "step": "plan", "targets": "m001",
                                                   "cluster": "lab", "role": "worker", "labels": "no-equals"})
        assert r.status_code == 422
        assert 'data-field-error="labels"' in r.text and "is not key=value" in r.text


def test_the_approvals_inbox_and_its_count_for_an_approver_and_no_inbox_for_a_viewer(console):
    with browser_sign_in(console.url, "approver") as browser:
        page = browser.get("/ui/approvals")
        assert page.status_code == 200 and 'data-test="approvals"' in page.text and "data-inbox" in page.text
        assert 'data-test="unavailable"' in page.text, "netcfg is down here: the tickets may be missing, and it says so"
        count = browser.get("/ui/approvals/count")
        assert count.status_code == 200 and count.json() == {"count": 0, "complete": False}
        assert count.headers["cache-control"] == "no-store"
    with browser_sign_in(console.url, "viewer") as browser:
        assert "data-inbox" not in browser.get("/ui/machines").text
        assert browser.get("/ui/approvals/count").json() == {"count": 0, "complete": True}, "nothing to ask for"


def test_the_swagger_page_of_the_merged_api_loads_its_files_from_the_console(console):
    """No CDN in a data centre: /docs and its script and style come from the console itself."""
    with browser_sign_in(console.url, "viewer") as browser:
        assert 'href="/docs"' in browser.get("/ui/machines").text, "the header links it"
        page = browser.get("/docs")
        assert page.status_code == 200 and "'/api/v1/openapi.json'" in page.text.replace('"', "'")
        assert "/_swagger/swagger-ui-bundle.js" in page.text and "cdn" not in page.text.lower()
        js = browser.get("/_swagger/swagger-ui-bundle.js")
        assert js.status_code == 200 and "SwaggerUIBundle" in js.text[:5000]
        assert browser.get("/_swagger/swagger-ui.css").status_code == 200
