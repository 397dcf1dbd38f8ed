"""Driving a change's page the way a person does, without racing its live updates.

The page re-renders its live part (status, timeline, the approve form) from the server
whenever the event stream says something about the change, and once when the stream is
ready. So a test waits for what it needs to see, never for time:

- a form post (approve) navigates; the test waits for *that* navigation to land on the
  change page again before it marks the document (``window.__noReload``) — the URL is the
  same before and after, so waiting for the URL alone returns at once, on the old page,
  and the mark was set on a document about to be replaced;
- it acts only once the page is live (its stream ready, the fragment re-rendered), so the
  form it fills is the one the next event will keep;
- between gates it waits for a gate it has not decided yet, not for "an approve button",
  which the page it just left still had.
"""
from __future__ import annotations

TERMINAL = ("succeeded", "partially_failed", "failed", "cancelled")
#: Generous bounds for a loaded machine; a wait ends as soon as the page shows the state.
NAVIGATION_MS = 90_000


def status(page) -> str:
    return page.locator("[data-test=change-status] .badge").first.get_attribute("data-status")


def show_plan(page) -> None:
    """Ask the open action form for its plan; the plan (not a problem) must come back."""
    page.click("[data-test=show-plan]")
    page.wait_for_selector("[data-test=plan], [data-test=problem], .field-error")
    assert page.locator("[data-test=plan]").count() == 1, page.locator("main").inner_text()


def submit_plan(page) -> str:
    """Show the form's plan and submit it; the URL of the change it created."""
    show_plan(page)
    page.click("[data-test=submit-change]")
    page.wait_for_url("**/ui/changes/chg-*")
    return page.url


def wait_live(page) -> None:
    """Until the page's event stream is ready and its live part re-rendered once."""
    page.wait_for_function("document.getElementById('live')?.dataset.refreshed !== undefined",
                           timeout=NAVIGATION_MS)


def wait_status(page, statuses: tuple[str, ...] | list[str], timeout_ms: float) -> str:
    page.wait_for_function(
        "wanted => wanted.includes(document.querySelector('[data-test=change-status] .badge')?.dataset.status)",
        arg=list(statuses), timeout=timeout_ms)
    return status(page)


def wait_gate_or_end(page, decided: list[str], timeout_ms: float) -> str | None:
    """The id of a gate waiting for this user that they have not decided yet, or ``None``
    once the change has ended."""
    page.wait_for_function(
        """([decided, terminal]) => {
             const step = document.querySelector('[data-test=decide] input[name=step]');
             if (step && !decided.includes(step.value)) return true;
             return terminal.includes(document.querySelector('[data-test=change-status] .badge')?.dataset.status);
           }""", arg=[decided, list(TERMINAL)], timeout=timeout_ms)
    step = page.locator("[data-test=decide] input[name=step]")
    if status(page) in TERMINAL or step.count() == 0:
        return None
    return step.get_attribute("value")


def approve(page, change_url: str, comment: str) -> str:
    """Approve the gate the live page offers, with a comment; back on the change page
    (a new document, marked ``window.__noReload``), live again. The step approved."""
    wait_live(page)
    step = page.locator("[data-test=decide] input[name=step]").get_attribute("value")
    page.fill("[data-test=decide] input[name=comment]", comment)
    with page.expect_navigation(timeout=NAVIGATION_MS):
        page.click("[data-test=approve]")   # a form post: the page is reloaded here, on purpose
    # Refused (a problem shown on the posted-to URL) or redirected back to the change.
    assert page.url == change_url, page.locator("main").inner_text()
    page.evaluate("window.__noReload = true")
    wait_live(page)
    return step
