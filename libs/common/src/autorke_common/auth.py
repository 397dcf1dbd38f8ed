"""Who is calling, and may they? OIDC bearer tokens (RS256 JWTs) verified against the
issuer's JWKS, with roles from the ``roles`` claim: ``viewer``, ``operator``, ``approver``,
``admin`` (admin may do everything).

Every service checks the token itself, even behind the console, so a call that bypasses
the entry point gains nothing. ``AUTORKE_AUTH_DISABLED=true`` turns checking off for a
throw-away development setup only; the service then says so loudly at start-up.

Who the caller is: ``Principal.subject`` is ``<iss>#<sub>`` (the form Kubernetes' OIDC
authenticator uses), the one identity that can neither be edited in the IdP nor collide
with another user's. Requesters, approvers and audit entries are compared and recorded by
it. ``preferred_username`` and ``name`` are display only (``Principal.username``,
``Principal.name``): an IdP lets them change, so they never decide anything. The names
the platform uses for itself (``system``, the engine's own actor; ``dev``, the principal
of an auth-disabled setup) are refused in a token, and a token's subject can never equal
them anyway, since it always carries the issuer.

Signing keys: the JWKS is cached for ``jwks_cache_s`` (``AUTORKE_OIDC_JWKS_CACHE_S``,
300 s) and no key is kept longer, so a key the IdP removed (a leak, a rotation) stops
verifying tokens within that time. A token naming a ``kid`` the cached set lacks makes
one refetch, at most once per ``jwks_refetch_cooldown_s``, so forged kids cannot turn
every request into a JWKS download.
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
SYSTEM = "system"            # the actor of what the platform does by itself
DEV = "dev"                  # the principal when authentication is disabled
RESERVED_NAMES = frozenset({SYSTEM, DEV})
MAX_SUBJECT_CHARS = 128      # the narrowest actor column of any service (inventory, netcfg)


def subject_id(issuer: str, sub: str) -> str:
    """The stable identity of ``sub`` at ``issuer``, as principals and records carry it."""
    return f"{issuer}#{sub}"


@dataclass(frozen=True)
class Principal:
    """``subject`` is the stable identity (``<iss>#<sub>``) every check and record uses;
    ``name`` and ``username`` are the IdP's display name and ``preferred_username``,
    for showing only."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None
    username: str | None = None

    def has(self, role: str) -> bool:
        return "admin" in self.roles or role in self.roles

    @property
    def display(self) -> str:
        return self.name or self.username or self.subject


def unauthenticated(detail: str) -> Problem:
    return Problem("unauthenticated", "Authentication required", 401, detail)


class Authenticator:
    def __init__(self, issuer: str, audience: str = "autorke", leeway_s: int = 30,
                 jwks_cache_s: float = 300.0, jwks_refetch_cooldown_s: float = 30.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.leeway_s = leeway_s
        self.jwks_cache_s = jwks_cache_s
        self.jwks_refetch_cooldown_s = jwks_refetch_cooldown_s
        self._jwks: jwt.PyJWKClient | None = None

    def _jwks_client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            meta = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5)
            meta.raise_for_status()
            # cache_keys=False: PyJWT's per-kid cache is an lru_cache without expiry, which
            # would keep accepting a key long after the IdP removed it. The key set itself
            # is cached for jwks_cache_s, and an unknown kid refetches it at most once per
            # cooldown.
            self._jwks = jwt.PyJWKClient(meta.json()["jwks_uri"], cache_keys=False,
                                         cache_jwk_set=True, lifespan=self.jwks_cache_s,
                                         cooldown_duration=self.jwks_refetch_cooldown_s, timeout=5)
        return self._jwks

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks_client().get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway_s,
                                options={"require": ["exp", "iat", "iss", "sub"]})
        except (jwt.PyJWTError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise unauthenticated(f"invalid bearer token: {type(exc).__name__}") from None
        return principal_of(claims)


def _text(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def principal_of(claims: dict) -> Principal:
    """The principal of verified ``claims``; 401 for a subject the platform cannot hold or
    reserves for itself."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or not sub.isprintable():
        raise unauthenticated("the token's subject is empty or not printable")
    subject = subject_id(str(claims["iss"]), sub)
    if len(subject) > MAX_SUBJECT_CHARS:
        raise unauthenticated(f"the token's issuer and subject are longer than {MAX_SUBJECT_CHARS} characters")
    username, name = _text(claims, "preferred_username"), _text(claims, "name")
    if any(v is not None and v.strip().casefold() in RESERVED_NAMES for v in (sub, username, name)):
        raise unauthenticated("the token names an identity the platform reserves for itself")
    raw_roles = claims.get("roles", [])
    roles = frozenset(r for r in raw_roles if r in ROLES) if isinstance(raw_roles, list) else frozenset()
    return Principal(subject=subject, roles=roles, name=name, username=username)


DEV_PRINCIPAL = Principal(subject=DEV, roles=frozenset(ROLES), name="auth disabled", username=DEV)


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
