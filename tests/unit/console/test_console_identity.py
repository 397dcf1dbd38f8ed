"""Who a caller is, decided without a request: an unsafe call with the cookie needs the
session's CSRF token, a bearer header must say Bearer, and a caller stops being signed in
when its token (or its session) ends."""
from __future__ import annotations

import base64
import json

import pytest

from autorke_common.auth import Principal
from autorke_common.errors import Problem
from autorke_console.domain.sessions import EXPIRY_MARGIN_S, ConsoleSession
from autorke_console.service_layer.identity import bearer_caller, bearer_token, session_caller, token_expiry

ALICE = Principal(subject="alice", roles=frozenset({"operator", "viewer"}), name="Alice")
SESSION = ConsoleSession(subject="alice", name="Alice", username="alice", roles=("operator", "viewer"),
                         token="tok", csrf="c-1", token_expires_at=1000.0)


def _jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_an_unsafe_call_with_the_cookie_needs_the_sessions_csrf_token():
    user = SESSION.user("sid-1")
    assert session_caller(user, "GET", None).principal.subject == "alice"
    caller = session_caller(user, "POST", user["csrf"])
    assert caller.token == "tok" and caller.via_session and caller.session_id == "sid-1"
    for sent in (None, "", "forged"):
        with pytest.raises(Problem) as exc:
            session_caller(user, "POST", sent)
        assert exc.value.status == 403 and exc.value.slug == "csrf-token-missing"


def test_only_a_bearer_header_carries_a_token():
    assert bearer_token("Bearer abc ") == "abc" and bearer_token("bearer abc") == "abc"
    for header in ("Basic abc", "Bearer ", "abc"):
        with pytest.raises(Problem) as exc:
            bearer_token(header)
        assert exc.value.status == 401


def test_m7_a_caller_is_signed_in_until_its_token_or_session_ends():
    assert bearer_caller(ALICE, _jwt({"sub": "alice", "exp": 1234})).expires_at == 1234.0
    assert token_expiry(_jwt({"sub": "alice"})) is None
    for broken in ("", "a", "a.!!!.c", _jwt({"exp": "soon"}), _jwt({"exp": True})):
        assert token_expiry(broken) is None
    assert session_caller(SESSION.user("sid-1"), "GET", None).expires_at == 1000.0 - EXPIRY_MARGIN_S
