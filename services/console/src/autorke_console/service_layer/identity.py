"""Who is calling the console, and with which token it calls the services for them.

Two ways in: a browser signed in through OIDC (a server-side session, ``sessions.py``:
the browser's cookie holds only its opaque id) and an API client sending
``Authorization: Bearer``. Either way the token is verified at the entry and forwarded,
and each service verifies it again. Unsafe calls made with the cookie must also carry the
session's CSRF token (a header or form field), which another site's page cannot read.

The decisions only: whether a CSRF token is the session's, which caller a request is and
until when it may act (its token's expiry, which ends a live event stream). Reading them
off the HTTP request is the entrypoints' part (``entrypoints/session.py``).
"""
from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass

from autorke_common.auth import DEV_PRINCIPAL, Principal, unauthenticated
from autorke_common.errors import Problem
from autorke_console.domain.sessions import EXPIRY_MARGIN_S

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str | None
    via_session: bool
    #: When the caller stops being signed in (seconds since the epoch): the bearer token's
    #: ``exp``, or the end of the session; ``None`` when nothing expires (auth disabled).
    expires_at: float | None = None
    #: The server-side session behind the call, when it came with the cookie.
    session_id: str | None = None


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


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT the authenticator has already verified (so its payload is
    read here without checking the signature again); ``None`` when it has none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


def bearer_caller(principal: Principal, token: str) -> Caller:
    return Caller(principal, token, False, expires_at=token_expiry(token))


def session_caller(user: dict, method: str, sent_csrf: str | None) -> Caller:
    """The caller behind a session cookie; an unsafe call must carry the session's CSRF token."""
    if method not in SAFE_METHODS and not csrf_matches(sent_csrf, user):
        raise Problem("csrf-token-missing", "CSRF token missing or wrong", 403,
                      f"a call made with the session cookie must send the {CSRF_HEADER} header")
    return Caller(session_principal(user), user["token"], True,
                  expires_at=float(user["exp"]) - EXPIRY_MARGIN_S, session_id=user.get("sid"))


def unverified_caller(token: str | None, auth_disabled: bool, reason: str) -> Caller:
    """The caller when the console has no identity provider: the development principal if
    authentication is switched off, else a 401 problem saying ``reason``."""
    if auth_disabled:
        return Caller(DEV_PRINCIPAL, token, False)
    raise unauthenticated(reason)
