"""Sign-in and sign-out for people: ``/auth/login`` sends the browser to the identity
provider, ``/auth/callback`` takes the code back, checks the tokens (the access token with
the same verifier the API uses, so the roles a page shows are the roles calls get) and
opens a server-side session (the cookie holds its id only); ``/auth/logout`` ends it.
The provider sends the code back to one fixed address from the settings
(``ConsoleSettings.redirect_uri``), never one built from the request's Host header.
``/ui/lang/{code}`` switches the label language."""
from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import urlparse

from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from autorke_common.errors import Problem
from autorke_console.domain.i18n import LANGUAGES
from autorke_console.entrypoints.pages.rendering import render
from autorke_console.entrypoints.session import csrf_ok, session_user, sign_in, sign_out
from autorke_console.service_layer.identity import token_expiry

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


#: where a signed-in user lands
LANDING = "/ui/dashboard"


def safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if not target:
        return LANDING
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return LANDING
    return target


@router.get("/auth/login")
async def login(request: Request, next: str | None = None):
    client = request.app.state.oidc
    if client is None:
        return render(request, "message.html", status_code=503, title_key="sign_in",
                      message="No identity provider is configured (AUTORKE_OIDC_ISSUER).")
    request.session["next"] = safe_next(next)
    redirect_uri = request.app.state.settings.redirect_uri()
    try:
        return await client.authorize_redirect(request, redirect_uri)
    except Exception as exc:  # noqa: BLE001 - the provider is down: say so, don't crash
        log.warning("identity provider unreachable: %s", type(exc).__name__)
        return render(request, "message.html", status_code=503, title_key="sign_in",
                      message="The identity provider is not reachable; try again shortly.")


@router.get("/auth/callback", name="auth_callback")
async def callback(request: Request):
    client = request.app.state.oidc
    try:
        token = await client.authorize_access_token(request)
    except OAuthError as exc:
        hint = ""
        if (exc.error == "mismatching_state" and request.url.scheme == "http"
                and request.app.state.settings.session_https_only):
            # the Secure cookie holding the sign-in's state never came back over plain HTTP
            hint = (" This console is reached over plain HTTP but its session cookie is Secure: serve it over"
                    " HTTPS, or set AUTORKE_SESSION_HTTPS_ONLY=false for development.")
        return render(request, "message.html", status_code=400, title_key="sign_in",
                      message=f"Sign-in failed: {exc.error}. Please sign in again.{hint}", link="/auth/login")
    access = token["access_token"]
    try:
        principal = await asyncio.to_thread(request.app.state.authenticator.verify, access)
    except Problem as exc:
        return render(request, "message.html", status_code=401, title_key="sign_in",
                      message=f"The identity provider's token was refused: {exc.detail}")
    # the session ends with the access token: at its own exp when it says, or sooner if the provider says so
    expires_at = float(token.get("expires_at") or time.time() + float(token.get("expires_in", 3600)))
    expires_at = min(expires_at, token_expiry(access) or expires_at)
    target = safe_next(request.session.get("next"))
    await sign_in(request, principal, access, expires_at)
    log.info("signed in: %s (%s)", principal.subject, ",".join(sorted(principal.roles)))
    return RedirectResponse(target, status_code=303)


@router.post("/auth/logout")
def logout(request: Request, csrf: str = Form("")):
    user = session_user(request)
    if user is not None and not csrf_ok(request, user, csrf):
        raise Problem("csrf-token-missing", "CSRF token missing or wrong", 403)
    sign_out(request)
    return RedirectResponse("/", status_code=303)


@router.get("/ui/lang/{code}")
def language(code: str, request: Request, next: str | None = None):
    response = RedirectResponse(safe_next(next or request.headers.get("referer-path")), status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request):
    if session_user(request) is not None:
        return RedirectResponse(LANDING, status_code=303)
    return render(request, "signin.html")
