"""Who is calling the console, and with which token it calls the services for them.

Two ways in: a browser signed in through OIDC (the access token lives in the signed,
httponly session cookie) and an API client sending ``Authorization: Bearer``. Either way
the token is verified at the entry and forwarded, and each service verifies it again.
Unsafe calls made with the cookie must also carry the session's CSRF token (a header or
form field), which another site's page cannot read.

The decisions only: what a session holds, when it has expired, whether a CSRF token is
the session's, which caller a request is. Reading them off the HTTP request is the
entrypoints' part (``entrypoints/session.py``).
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autorke_common.auth import DEV_PRINCIPAL, Principal, unauthenticated
from autorke_common.errors import Problem

SESSION_USER = "user"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"
#: A token this close to its expiry is treated as expired (it would lapse mid-request).
EXPIRY_MARGIN_S = 5


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str | None
    via_session: bool


def session_record(principal: Principal, token: str, expires_at: float) -> dict[str, Any]:
    """What the session cookie holds for a signed-in user (with a fresh CSRF token)."""
    return {
        "sub": principal.subject, "name": principal.name or principal.subject,
        "roles": sorted(principal.roles), "token": token, "exp": expires_at,
        "csrf": secrets.token_urlsafe(24),
    }


def current_user(session: Mapping[str, Any], now: float | None = None) -> dict | None:
    """The signed-in user in ``session``, or ``None`` (also when their token has expired)."""
    user = session.get(SESSION_USER)
    now = time.time() if now is None else now
    if not user or float(user.get("exp", 0)) <= now + EXPIRY_MARGIN_S:
        return None
    return user


def session_principal(user: dict) -> Principal:
    return Principal(subject=user["sub"], roles=frozenset(user.get("roles", [])), name=user.get("name"))


def csrf_matches(sent: str | None, user: dict) -> bool:
    return secrets.compare_digest(sent or "", user.get("csrf", ""))


def bearer_token(header: str) -> str:
    """The token of an ``Authorization`` header, or a 401 problem when it is no bearer token."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("send 'Authorization: Bearer <token>'")
    return token.strip()


def session_caller(user: dict, method: str, sent_csrf: str | None) -> Caller:
    """The caller behind a session cookie; an unsafe call must carry the session's CSRF token."""
    if method not in SAFE_METHODS and not csrf_matches(sent_csrf, user):
        raise Problem("csrf-token-missing", "CSRF token missing or wrong", 403,
                      f"a call made with the session cookie must send the {CSRF_HEADER} header")
    return Caller(session_principal(user), user["token"], True)


def unverified_caller(token: str | None, auth_disabled: bool, reason: str) -> Caller:
    """The caller when the console has no identity provider: the development principal if
    authentication is switched off, else a 401 problem saying ``reason``."""
    if auth_disabled:
        return Caller(DEV_PRINCIPAL, token, False)
    raise unauthenticated(reason)
