"""The identity provider's HTTP endpoints (OpenID Connect, as the console and services
see a real one such as Keycloak or Dex):

- ``GET /.well-known/openid-configuration`` — discovery;
- ``GET /jwks`` — the public signing keys;
- ``GET /authorize`` — the lab login page: pick a user by name (no passwords in the lab);
  ``POST /authorize`` with ``username`` → 302 to the client's redirect URI with ``code``;
- ``POST /token`` — ``authorization_code`` (ID token when the scope has ``openid``; PKCE
  required for the public CLI client) and ``client_credentials``;
- ``GET /userinfo`` — the user's claims for a bearer access token;
- ``GET /healthz``.
"""
from __future__ import annotations

import html
import time
from pathlib import Path
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic_settings import BaseSettings, SettingsConfigDict

from .directory import DEFAULT_CONSOLE_REDIRECTS, SCOPES, USERS, lab_clients
from .keys import ISSUER_FILE, SigningKeys, public_jwks, user_claims
from .oauth import StarletteOAuth2Request, build_server, parse_form


class IdPSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUTORKE_LAB_IDP_", extra="ignore")

    issuer: str
    state_dir: Path
    console_redirect_uris: list[str] = list(DEFAULT_CONSOLE_REDIRECTS)


async def read_request(request: Request) -> StarletteOAuth2Request:
    query = {k: request.query_params.getlist(k) for k in request.query_params}
    form = parse_form(await request.body()) if request.method == "POST" else {}
    return StarletteOAuth2Request(request.method, str(request.url), request.headers, query, form)


def login_page(query: str, client_id: str) -> str:
    action = html.escape(f"/authorize?{query}", quote=True)
    buttons = "\n".join(
        f'<button type="submit" name="username" value="{u.username}">{html.escape(u.name)}'
        f" ({u.username}: {', '.join(u.roles)})</button><br>"
        for u in USERS.values()
    )
    return (
        "<!doctype html><html><head><title>AutoRKE lab sign-in</title></head><body>"
        f"<h1>Sign in to {html.escape(client_id)}</h1>"
        "<p>Lab identity provider: pick a user, no password needed.</p>"
        f'<form method="post" action="{action}">{buttons}</form></body></html>'
    )


def create_app(settings: IdPSettings) -> FastAPI:
    issuer = settings.issuer.rstrip("/")
    keys = SigningKeys(settings.state_dir)
    (settings.state_dir / ISSUER_FILE).write_text(issuer + "\n")
    clients = lab_clients(settings.console_redirect_uris)
    server = build_server(issuer, keys.current, clients)
    app = FastAPI(title="Identity provider (lab)")

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none"
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "scopes_supported": list(SCOPES),
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "preferred_username", "name", "email", "roles"
            ],
        }

    @app.get("/jwks")
    async def jwks() -> dict:
        return public_jwks(keys.current())

    @app.get("/authorize")
    async def authorize_page(request: Request):
        oauth_request = await read_request(request)
        try:
            server.get_consent_grant(oauth_request)
        except OAuth2Error as error:
            return server.handle_error_response(oauth_request, error)
        query = urlencode(list(request.query_params.multi_items()))
        return HTMLResponse(login_page(query, oauth_request.payload.client_id or ""))

    @app.post("/authorize")
    async def authorize(request: Request):
        oauth_request = await read_request(request)
        user = USERS.get(oauth_request.form.get("username", ""))
        try:
            grant = server.get_consent_grant(oauth_request, end_user=user)
        except OAuth2Error as error:
            return server.handle_error_response(oauth_request, error)
        return server.create_authorization_response(oauth_request, grant_user=user, grant=grant)

    @app.post("/token")
    async def token(request: Request):
        return server.create_token_response(await read_request(request))

    @app.get("/userinfo")
    async def userinfo(request: Request):
        scheme, _, raw = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer":
                raise JoseError("no bearer token")
            claims = jwt.decode(raw, KeySet([keys.current()])).claims
            if claims.get("iss") != issuer or claims.get("exp", 0) < time.time():
                raise JoseError("token expired or from another issuer")
        except (JoseError, ValueError):
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        user = USERS.get(claims.get("sub", ""))
        if user is None:
            return {"sub": claims["sub"], "roles": claims.get("roles", [])}
        return {"sub": user.username, **user_claims(user)}

    return app
