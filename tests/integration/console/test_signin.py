"""Sign-in through the lab identity provider (OIDC authorization code flow), the session
cookie, roles from the token, CSRF on unsafe calls made with the cookie, sign-out; and the
session's hardening (M11): Secure by default, the token kept server-side, sign-out ending
the session for every copy of the cookie, a fixed redirect URI, pages that refuse framing."""
from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import TimestampSigner

from autorke_console.bootstrap import ConsoleSettings, create_app
from autorke_lab.machines.addresses import free_port
from fixtures.secret_keys import session_secret

from .conftest import console_settings
from .servers import RunningServer, browser_sign_in, serve_app


def test_operator_signs_in_and_the_session_carries_their_roles(console, echo_upstream, console_idp):
    with browser_sign_in(console.url, "operator") as browser:
        cookie = next(c for c in browser.cookies.jar if c.name == "autorke_session")
        assert cookie.has_nonstandard_attr("HttpOnly") or "httponly" in str(cookie._rest).lower()
        me = browser.get("/api/v1/me").json()
        assert me == {"subject": console_idp.subject("operator"), "name": "Otto Operator",
                      "roles": ["operator", "viewer"], "via": "session"}
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
        assert r.headers["location"] == "/ui/dashboard"


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


# -- M11: the session is kept on the console's side, ends on sign-out, cannot be framed ----

def _cookie(browser: httpx.Client) -> str:
    return next(c.value for c in browser.cookies.jar if c.name == "autorke_session")


def _cookie_content(value: str) -> dict:
    """What a Starlette session cookie says (signed, not encrypted: anyone can read it)."""
    payload = value.strip('"').split(".")[0]
    return json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))


def _access_token(browser: httpx.Client) -> str:
    """The user's access token, as the gateway forwards it (the echo stand-in shows it)."""
    return browser.get("/api/v1/machines").json()["headers"]["authorization"].removeprefix("Bearer ")


def test_m11_the_access_token_is_kept_server_side_not_in_the_cookie(console):
    with browser_sign_in(console.url, "operator") as browser:
        token = _access_token(browser)
        content = _cookie_content(_cookie(browser))
        assert set(content) == {"sid"}, content
        assert token not in json.dumps(content) and token.split(".")[1] not in _cookie(browser)
    # and the console's own table neither names the session nor holds the token readable
    db = sqlite3.connect(Path(console.app.state.settings.database_url.removeprefix("sqlite:///")))
    try:
        rows = db.execute("SELECT * FROM console_sessions").fetchall()
    finally:
        db.close()
    assert rows and not any(token in str(row) or content["sid"] in str(row) for row in rows)


def test_m11_logout_revokes_the_session(console):
    with browser_sign_in(console.url, "operator") as browser:
        copied = _cookie(browser)
        csrf = browser.get("/ui/events").text.split('name="csrf-token" content="')[1].split('"')[0]
        with httpx.Client(base_url=console.url, cookies={"autorke_session": copied}) as thief:
            assert thief.get("/api/v1/me").status_code == 200
            assert browser.post("/auth/logout", data={"csrf": csrf}).status_code == 303
            r = thief.get("/api/v1/me")
            assert r.status_code == 401, "a copy of the cookie must die with the session"
            assert thief.get("/ui/machines", follow_redirects=False).status_code == 303


def test_m11_the_redirect_uri_is_fixed_by_the_settings_not_the_host_header(console):
    with httpx.Client(base_url=console.url, follow_redirects=False) as c:
        r = c.get("/auth/login", headers={"Host": "evil.example:8080"})
        assert r.status_code == 302
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["redirect_uri"] == [f"{console.url}/auth/callback"]


def test_m11_sign_in_needs_a_fixed_redirect_uri(tmp_path):
    settings = ConsoleSettings(oidc_issuer="http://idp.invalid", console_url=None, oidc_redirect_uri=None,
                               data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'console.db'}")
    with pytest.raises(ValueError, match="AUTORKE_CONSOLE_URL"):
        create_app(settings, configure_process=False)
    assert ConsoleSettings(console_url="https://console.example/").redirect_uri() == \
        "https://console.example/auth/callback"
    assert ConsoleSettings(console_url="https://a", oidc_redirect_uri="https://b/cb").redirect_uri() == "https://b/cb"


def test_m11_pages_cannot_be_framed_by_another_site(console):
    with browser_sign_in(console.url, "viewer") as browser:
        for path in ("/", "/ui/machines", "/ui/events", "/api/v1/me"):
            r = browser.get(path, follow_redirects=True)
            assert r.status_code == 200, path
            assert r.headers["content-security-policy"] == "frame-ancestors 'none'", path
            assert r.headers["x-frame-options"] == "DENY", path


@pytest.fixture(scope="module")
def console_with_defaults(tmp_path_factory, nats_server, console_idp, echo_upstream) -> Iterator[RunningServer]:
    """A console with the cookie settings left at their defaults."""
    port = free_port()
    settings = console_settings(tmp_path_factory.mktemp("console-defaults"), nats_server.url, console_idp, port,
                                inventory_url=echo_upstream.url, upstream_url=echo_upstream.url)
    settings = settings.model_copy(update={"session_https_only": ConsoleSettings.model_fields[
        "session_https_only"].default})
    with serve_app(create_app(settings, configure_process=False), port=port) as running:
        yield running


def test_m11_the_session_cookie_is_secure_by_default(console_with_defaults):
    r = httpx.get(f"{console_with_defaults.url}/auth/login", follow_redirects=False)
    assert r.status_code == 302
    attributes = [a.strip().lower() for a in r.headers["set-cookie"].split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes


def test_m11_a_cookie_signed_before_server_side_sessions_is_emptied(console):
    """Such a cookie carried the user's access token; it opens nothing and is rewritten without it."""
    old = base64.b64encode(json.dumps({"user": {"sub": "operator", "roles": ["operator"], "token": "ey.old.token",
                                                "exp": time.time() + 3600, "csrf": "x"}}).encode())
    value = TimestampSigner(session_secret("console-tests")).sign(old).decode()
    r = httpx.get(f"{console.url}/api/v1/me", cookies={"autorke_session": value})
    assert r.status_code == 401
    cleared = r.headers["set-cookie"].lower()
    assert cleared.startswith("autorke_session=null;") and "expires=thu, 01 jan 1970" in cleared
