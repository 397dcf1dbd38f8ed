"""Who is calling, and may they? OIDC bearer tokens (RS256 JWTs) verified against the
issuer's JWKS, with roles from the ``roles`` claim: ``viewer``, ``operator``, ``approver``,
``admin`` (admin may do everything).

Every service checks the token itself, even behind the console, so a call that bypasses
the entry point gains nothing. ``AUTORKE_AUTH_DISABLED=true`` turns checking off for a
throw-away development setup only; the service then says so loudly at start-up.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated

import httpx
import jwt
from fastapi import Depends, Request

from autorke_common.errors import Problem

log = logging.getLogger(__name__)

ROLES = ("viewer", "operator", "approver", "admin")


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles


def unauthenticated(detail: str) -> Problem:
    return Problem("unauthenticated", "Authentication required", 401, detail)


class Authenticator:
    def __init__(self, issuer: str, audience: str = "autorke", leeway_s: int = 30) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway_s = leeway_s
        self._jwks: jwt.PyJWKClient | None = None

    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            meta = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5).json()
            self._jwks = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=True, lifespan=300)
        return self._jwks

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks_client().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway_s,
                                options={"require": ["exp", "iat", "sub"]})
        except (jwt.PyJWTError, httpx.HTTPError, KeyError) as exc:
            raise unauthenticated(f"invalid bearer token: {type(exc).__name__}") from None
        roles = frozenset(r for r in claims.get("roles", []) if r in ROLES)
        return Principal(subject=claims.get("preferred_username") or claims["sub"], roles=roles,
                         name=claims.get("name"))


DEV_PRINCIPAL = Principal(subject="dev", roles=frozenset(ROLES), name="auth disabled")


async def current_principal(request: Request) -> Principal:
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        if getattr(request.app.state, "auth_disabled", False):
            return DEV_PRINCIPAL
        raise unauthenticated("this service has no identity provider configured")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthenticated("send 'Authorization: Bearer <token>'")
    return await asyncio.to_thread(authenticator.verify, token.strip())


def require(role: str):
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(role):
            raise Problem("forbidden", "Not allowed", 403,
                          f"{principal.subject} lacks the {role!r} role")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Admin = Annotated[Principal, Depends(require("admin"))]
