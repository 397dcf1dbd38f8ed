"""authlib's OAuth 2.0 / OpenID Connect authorization server, fitted to Starlette.

authlib ships server integrations for Flask and Django only, so this module supplies the
two framework hooks it needs (turn a request into an :class:`OAuth2Request`, turn a
``(status, body, headers)`` triple into a response) and the storage callbacks (clients,
authorization codes, nonces). Grants: authorization code (with OpenID Connect ID tokens
and PKCE, required for the public CLI client) and client credentials. Access tokens are
JWTs signed with the IdP key (claims in :mod:`.keys`).
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey
from starlette.responses import JSONResponse, Response

from .directory import USERS, Client
from .keys import access_token_claims, sign, user_claims

ACCESS_TOKEN_TTL_S = 3600
CODE_TTL_S = 300


class StarlettePayload(OAuth2Payload):
    def __init__(self, data: dict[str, list[str]]) -> None:
        self._datalist = defaultdict(list, data)
        self._data = {k: v[0] for k, v in data.items() if v}

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):
    """Built from an already-read Starlette request (query string and form merged)."""

    def __init__(self, method: str, url: str, headers, query: dict, form: dict) -> None:
        super().__init__(method=method, uri=url, headers=headers)
        merged: dict[str, list[str]] = defaultdict(list)
        for source in (query, form):
            for k, values in source.items():
                merged[k].extend(values)
        self.payload = StarlettePayload(merged)
        self._query = {k: v[0] for k, v in query.items()}
        self._form = {k: v[0] for k, v in form.items()}

    @property
    def args(self):
        return self._query

    @property
    def form(self):
        return self._form


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    username: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class CodeStore:
    """Authorization codes in memory: single use, short-lived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}

    def save(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._codes[code.code] = code

    def find(self, code: str, client_id: str) -> AuthorizationCode | None:
        with self._lock:
            found = self._codes.get(code)
        if found and found.client_id == client_id and found.expires_at > time.time():
            return found
        return None

    def delete(self, code: str) -> None:
        with self._lock:
            self._codes.pop(code, None)

    def nonce_used(self, nonce: str, client_id: str) -> bool:
        with self._lock:
            return any(c.nonce == nonce and c.client_id == client_id for c in self._codes.values())


def build_server(issuer: str, key: Callable[[], RSAKey], clients: dict[str, Client]) -> AuthorizationServer:
    """``key`` gives the current signing key (it changes when the key is rotated)."""
    codes = CodeStore()

    class Server(AuthorizationServer):
        def query_client(self, client_id):
            return clients.get(client_id)

        def save_token(self, token, request):
            pass  # JWTs are self-contained; nothing to store

        def create_oauth2_request(self, request):
            return request  # already a StarletteOAuth2Request (see ``read_request``)

        def handle_response(self, status, body, headers):
            headers = dict(headers)
            if isinstance(body, dict):
                return JSONResponse(body, status_code=status, headers=headers)
            return Response(body or "", status_code=status, headers=headers)

        def send_signal(self, name, *args, **kwargs):
            pass

    def access_token(client, grant_type, user, scope):
        return sign(
            key(),
            access_token_claims(
                issuer, client.client_id, scope or "", ACCESS_TOKEN_TTL_S, user,
                roles=client.service_roles,
            ),
            typ="at+jwt",
        )

    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

        def save_authorization_code(self, code, request):
            payload = request.payload.data
            codes.save(
                AuthorizationCode(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.payload.scope or "",
                    username=request.user.username,
                    nonce=payload.get("nonce"),
                    code_challenge=payload.get("code_challenge"),
                    code_challenge_method=payload.get("code_challenge_method"),
                    auth_time=int(time.time()),
                    expires_at=time.time() + CODE_TTL_S,
                )
            )

        def query_authorization_code(self, code, client):
            return codes.find(code, client.client_id)

        def delete_authorization_code(self, authorization_code):
            codes.delete(authorization_code.code)

        def authenticate_user(self, authorization_code):
            return USERS.get(authorization_code.username)

    class IDToken(OpenIDCode):
        def exists_nonce(self, nonce, request):
            return codes.nonce_used(nonce, request.payload.client_id)

        def resolve_client_private_key(self, client):
            return KeySet([key()])

        def get_client_algorithm(self, client):
            return "RS256"

        def get_client_claims(self, client):
            return {"iss": issuer, "aud": [client.client_id]}

        def generate_user_info(self, user, scope):
            return UserInfo(sub=user.username, **user_claims(user))

    class ServiceGrant(grants.ClientCredentialsGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

    server = Server(scopes_supported=None)
    server.register_token_generator(
        "default", BearerTokenGenerator(access_token, expires_generator=lambda *_: ACCESS_TOKEN_TTL_S)
    )
    server.register_grant(CodeGrant, [IDToken(require_nonce=False), CodeChallenge(required=True)])
    server.register_grant(ServiceGrant)
    return server


def parse_form(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8"), keep_blank_values=True)
