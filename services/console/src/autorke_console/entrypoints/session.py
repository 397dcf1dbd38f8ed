"""The caller as the HTTP request shows them: the user in the signed session cookie, the
CSRF token a request sent, the bearer token of an ``/api/v1`` call (verified here, at the
entry). What these mean is decided in ``service_layer/identity.py``."""
from __future__ import annotations

import asyncio

from starlette.requests import Request

from autorke_common.auth import Principal
from autorke_console.service_layer.identity import (
    CSRF_HEADER,
    SESSION_USER,
    Caller,
    bearer_token,
    csrf_matches,
    current_user,
    session_caller,
    session_record,
    unverified_caller,
)


def sign_in(request: Request, principal: Principal, token: str, expires_at: float) -> None:
    request.session.clear()
    request.session[SESSION_USER] = session_record(principal, token, expires_at)


def sign_out(request: Request) -> None:
    request.session.clear()


def session_user(request: Request) -> dict | None:
    """The signed-in user, or ``None`` (also when their token has expired)."""
    if "session" not in request.scope:
        return None
    return current_user(request.session)


def csrf_ok(request: Request, user: dict, form_value: str | None = None) -> bool:
    return csrf_matches(request.headers.get(CSRF_HEADER) or form_value, user)


async def api_caller(request: Request) -> Caller:
    """The caller of an ``/api/v1`` call, or a 401/403 problem."""
    state = request.app.state
    header = request.headers.get("authorization", "")
    if header:
        token = bearer_token(header)
        if state.authenticator is None:
            return unverified_caller(token, state.auth_disabled, "the console has no identity provider configured")
        principal = await asyncio.to_thread(state.authenticator.verify, token)
        return Caller(principal, token, False)
    user = session_user(request)
    if user is not None:
        return session_caller(user, request.method, request.headers.get(CSRF_HEADER))
    return unverified_caller(None, state.authenticator is None and state.auth_disabled,
                             "sign in, or send 'Authorization: Bearer <token>'")
