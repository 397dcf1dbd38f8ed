"""The caller as the HTTP request shows them: the signed-in user of the server-side session
whose opaque id the session cookie holds, the CSRF token a request sent, the bearer token
of an ``/api/v1`` call (verified here, at the entry). What these mean is decided in
``service_layer/identity.py``; sessions are opened and ended in ``service_layer/sessions.py``.

The signed cookie (Starlette's ``SessionMiddleware``) holds the session id and, during a
sign-in, the OIDC ``state`` and ``nonce`` authlib keeps there; never a token.
"""
from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from autorke_common.auth import Principal
from autorke_console.service_layer.identity import (
    CSRF_HEADER,
    Caller,
    bearer_caller,
    bearer_token,
    csrf_matches,
    session_caller,
    unverified_caller,
)
from autorke_console.service_layer.sessions import end_session, signed_in_user, start_session
from autorke_console.service_layer.unit_of_work import UnitOfWorkFactory

#: The session cookie's key for the opaque id of the server-side session.
SESSION_ID = "sid"
#: Where :class:`SignedInSessions` leaves the request's signed-in user (or ``None``).
_USER = "autorke.console.user"
#: Where cookies signed before the server-side sessions held the user and their token.
_LEGACY_USER = "user"


class SignedInSessions:
    """ASGI middleware, inside ``SessionMiddleware``: looks the cookie's session id up once
    per request, so every page and route reads the same signed-in user (or none)."""

    def __init__(self, app: ASGIApp, uow_factory: UnitOfWorkFactory) -> None:
        self.app = app
        self.uow_factory = uow_factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/static/"):
            cookie = scope.get("session")
            if cookie and _LEGACY_USER in cookie:
                del cookie[_LEGACY_USER]  # rewritten without it: the token leaves the browser
            session_id = (cookie or {}).get(SESSION_ID)
            scope[_USER] = (await asyncio.to_thread(signed_in_user, session_id, self.uow_factory())
                            if isinstance(session_id, str) else None)
        await self.app(scope, receive, send)


def _uow_factory(request: Request) -> UnitOfWorkFactory:
    return request.app.state.uow_factory


async def sign_in(request: Request, principal: Principal, token: str, expires_at: float) -> None:
    """Open a new server-side session for ``principal`` (ending the one the browser held)
    and give the browser its id."""
    previous = request.session.get(SESSION_ID)
    request.session.clear()
    session_id, _ = await asyncio.to_thread(start_session, principal, token, expires_at, _uow_factory(request)(),
                                            previous if isinstance(previous, str) else None)
    request.session[SESSION_ID] = session_id


def sign_out(request: Request) -> None:
    """End the session on the server (a copy of the cookie opens nothing afterwards) and
    clear the browser's cookie."""
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str):
        end_session(session_id, _uow_factory(request)())
    request.session.clear()


def session_user(request: Request) -> dict | None:
    """The signed-in user, or ``None`` (also when their token has expired or they signed out)."""
    return request.scope.get(_USER)


def still_signed_in(request: Request, session_id: str) -> bool:
    """Whether session ``session_id`` is still open (a long-lived stream asks again)."""
    return signed_in_user(session_id, _uow_factory(request)()) is not None


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
        return bearer_caller(principal, token)
    user = session_user(request)
    if user is not None:
        return session_caller(user, request.method, request.headers.get(CSRF_HEADER))
    return unverified_caller(None, state.authenticator is None and state.auth_disabled,
                             "sign in, or send 'Authorization: Bearer <token>'")
