"""Who a caller is, decided without a request: a session expires a little before its
token does, an unsafe call with the cookie needs the session's CSRF token, and a bearer
header must say Bearer."""
from __future__ import annotations

import pytest

from autorke_common.auth import Principal
from autorke_common.errors import Problem
from autorke_console.service_layer.identity import (
    SESSION_USER,
    bearer_token,
    current_user,
    session_caller,
    session_record,
)

ALICE = Principal(subject="alice", roles=frozenset({"operator", "viewer"}), name="Alice")


def test_a_session_holds_the_user_until_just_before_their_token_expires():
    user = session_record(ALICE, "tok", expires_at=1000.0)
    assert user["roles"] == ["operator", "viewer"] and user["csrf"]
    assert current_user({SESSION_USER: user}, now=990.0) == user
    assert current_user({SESSION_USER: user}, now=996.0) is None, "a token about to lapse counts as expired"
    assert current_user({}, now=0.0) is None


def test_an_unsafe_call_with_the_cookie_needs_the_sessions_csrf_token():
    user = session_record(ALICE, "tok", expires_at=1000.0)
    assert session_caller(user, "GET", None).principal.subject == "alice"
    caller = session_caller(user, "POST", user["csrf"])
    assert caller.token == "tok" and caller.via_session
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
