"""Sign-in through the lab identity provider (OIDC authorization code flow), the session
cookie, roles from the token, CSRF on unsafe calls made with the cookie, sign-out."""
from __future__ import annotations

import httpx

from .servers import browser_sign_in


def test_operator_signs_in_and_the_session_carries_their_roles(console, echo_upstream):
    with browser_sign_in(console.url, "operator") as browser:
        cookie = next(c for c in browser.cookies.jar if c.name == "autorke_session")
        assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
        me = browser.get("/api/v1/me").json()
        assert me == {"subject": "operator", "name": "Otto Operator", "roles": ["operator", "viewer"],
                      "via": "session"}
        # calls through the gateway carry the user's own token to the service
        seen = browser.get("/api/v1/machines").json()
        assert seen["headers"]["authorization"].startswith("Bearer ey")


def test_the_set_cookie_header_is_httponly_and_samesite(console):
    with httpx.Client(base_url=console.url) as c:
        r = c.get("/auth/login")
        header = r.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=lax" in header


def test_unsafe_calls_with_the_cookie_need_the_csrf_token(console):
    with browser_sign_in(console.url, "operator") as browser:
        r = browser.post("/api/v1/changes", json={"type": "node.add"})
        assert r.status_code == 403
        assert r.json()["type"].endswith("/csrf-token-missing")
        page = browser.get("/ui/events")
        csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        r = browser.post("/api/v1/changes", json={"type": "node.add"}, headers={"x-csrf-token": csrf})
        assert r.status_code == 201 and r.json()["method"] == "POST"


def test_pages_send_a_signed_out_visitor_to_sign_in(console):
    r = httpx.get(f"{console.url}/ui/machines?state=ready", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/auth/login?next=%2Fui%2Fmachines%3Fstate%3Dready")


def test_sign_out_ends_the_session(console):
    with browser_sign_in(console.url, "viewer") as browser:
        page = browser.get("/ui/events")
        csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        assert browser.post("/auth/logout", data={"csrf": csrf}).status_code == 303
        assert browser.get("/api/v1/me").status_code == 401


def test_a_forged_session_cookie_is_ignored(console):
    r = httpx.get(f"{console.url}/api/v1/me", cookies={"autorke_session": "eyJ1c2VyIjp7fX0=.forged.sig"})
    assert r.status_code == 401


def test_next_never_redirects_to_another_site(console):
    with httpx.Client(base_url=console.url, follow_redirects=False) as c:
        c.get("/auth/login", params={"next": "https://evil.example/"})
        r = c.get("/ui/lang/zh", params={"next": "//evil.example/"})
        assert r.headers["location"] == "/ui/machines"


def test_without_a_session_a_form_goes_to_sign_in_and_a_live_fragment_says_signed_out(console):
    with httpx.Client(base_url=console.url, follow_redirects=False) as c:
        r = c.post("/ui/changes/c-1/approve", data={"csrf": "x", "step": "s1"})
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/login?next=%2Fui%2Fchanges%2Fc-1")
        live = c.get("/ui/changes/c-1/live")
        assert live.status_code == 401 and "signed out" in live.text


def test_a_form_with_another_sessions_csrf_token_has_expired(console):
    with browser_sign_in(console.url, "operator") as browser:
        r = browser.post("/ui/changes/c-1/approve", data={"csrf": "forged", "step": "s1"})
        assert r.status_code == 403 and "The form expired" in r.text
