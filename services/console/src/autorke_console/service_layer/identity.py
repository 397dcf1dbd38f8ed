"""Who is calling the console, and with which token it calls the services for them.

Two ways in: a browser signed in through OIDC (the access token lives in the signed,
httponly session cookie) and an API client sending ``Authorization: Bearer``. Either way
the token is verified here (the entry) and forwarded, and each service verifies it again.
Unsafe calls made with the cookie must also carry the session's CSRF token (a header or
form field), which another site's page cannot read.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from autorke_common.auth import DEV_PRINCIPAL, Principal, unauthenticated
from autorke_common.errors import Problem
from starlette.requests import Request

SESSION_USER = "user"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str | None
    via_session: bool


def sign_in(request: Request, principal: Principal, token: str, expires_at: float) -> None:
    request.session.clear()
    request.session[SESSION_USER] = {
        "sub": principal.subject, "name": principal.name or principal.subject,
        "roles": sorted(principal.roles), "token": token, "exp": expires_at,
        "csrf": secrets.token_urlsafe(24),
    }


def sign_out(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> dict | None:
    """The signed-in user, or ``None`` (also when their token has expired)."""
    if "session" not in request.scope:
        return None
    user = request.session.get(SESSION_USER)
    if not user or float(user.get("exp", 0)) <= time.time() + 5:
        return None
    return user


def session_principal(user: dict) -> Principal:
    return Principal(subject=user["sub"], roles=frozenset(user.get("roles", [])), name=user.get("name"))


def csrf_ok(request: Request, user: dict, form_value: str | None = None) -> bool:
    sent = request.headers.get(CSRF_HEADER) or form_value or ""
    return secrets.compare_digest(sent, user.get("csrf", ""))


async def api_caller(request: Request) -> Caller:
    """The caller of an ``/api/v1`` call, or a 401/403 problem."""
    app = request.app
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("send 'Authorization: Bearer <token>'")
        if app.state.authenticator is None:
            if app.state.auth_disabled:
                return Caller(DEV_PRINCIPAL, token.strip(), False)
            raise unauthenticated("the console has no identity provider configured")
        principal = await asyncio.to_thread(app.state.authenticator.verify, token.strip())
        return Caller(principal, token.strip(), False)
    user = session_user(request)
    if user is not None:
        if request.method not in SAFE_METHODS and not csrf_ok(request, user):
            raise Problem("csrf-token-missing", "CSRF token missing or wrong", 403,
                          f"a call made with the session cookie must send the {CSRF_HEADER} header")
        return Caller(session_principal(user), user["token"], True)
    if app.state.authenticator is None and app.state.auth_disabled:
        return Caller(DEV_PRINCIPAL, None, False)
    raise unauthenticated("sign in, or send 'Authorization: Bearer <token>'")
