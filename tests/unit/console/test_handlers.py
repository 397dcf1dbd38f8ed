"""The console's handlers against an in-memory unit of work: a sign-in opens a server-side
session (and ends the one the browser held), signing out ends it for every copy of the
cookie, a session lapses just before its token, and ended sessions are purged."""
from __future__ import annotations

from autorke_common.auth import Principal
from autorke_console.service_layer.sessions import (
    end_session,
    purge_ended_sessions,
    signed_in_user,
    start_session,
)

from .fakes import FakeUnitOfWork

ALICE = Principal(subject="alice", roles=frozenset({"viewer", "operator"}), name="Alice")


def test_m11_a_sign_in_opens_a_server_side_session_and_the_browser_gets_only_its_id():
    uow = FakeUnitOfWork()
    sid, user = start_session(ALICE, "the-access-token", 1000.0, uow)
    assert uow.committed
    assert "the-access-token" not in sid and len(sid) >= 40
    assert user == {"sid": sid, "sub": "alice", "name": "Alice", "username": "alice", "roles": ["operator", "viewer"],
                    "token": "the-access-token", "exp": 1000.0, "csrf": user["csrf"]}
    assert signed_in_user(sid, uow, now=900.0) == user
    assert signed_in_user("another-id", uow, now=900.0) is None


def test_m11_signing_in_again_ends_the_session_the_browser_held():
    uow = FakeUnitOfWork()
    old, _ = start_session(ALICE, "t1", 1000.0, uow)
    new, user = start_session(ALICE, "t2", 1000.0, uow, replacing=old)
    assert new != old and signed_in_user(old, uow, now=0.0) is None
    assert signed_in_user(new, uow, now=0.0)["token"] == "t2" and user["csrf"]


def test_m11_signing_out_ends_the_session_for_every_copy_of_the_cookie():
    uow = FakeUnitOfWork()
    sid, _ = start_session(ALICE, "t", 1000.0, uow)
    assert end_session(sid, uow) is True and uow.committed
    assert signed_in_user(sid, uow, now=0.0) is None
    assert end_session(sid, uow) is False


def test_a_session_lapses_just_before_its_token_and_ended_ones_are_purged():
    uow = FakeUnitOfWork()
    ending, _ = start_session(ALICE, "t", 1000.0, uow)
    lasting, _ = start_session(ALICE, "t", 5000.0, uow)
    assert signed_in_user(ending, uow, now=990.0) is not None
    assert signed_in_user(ending, uow, now=996.0) is None, "a token about to lapse counts as expired"
    assert purge_ended_sessions(uow, now=1001.0) == 1
    assert set(uow.sessions.rows) == {lasting}
