"""A development OpenID Connect identity provider (authlib): discovery, JWKS,
authorization code and client credentials, RS256 JWTs with a ``roles`` claim for the lab
users ``viewer``, ``operator``, ``operator2``, ``approver`` and ``admin``."""
from .directory import USERS
from .keys import AUDIENCE, UnknownUser, issue_token, rotate_signing_key
from .server import IdentityProvider

__all__ = ["AUDIENCE", "USERS", "IdentityProvider", "UnknownUser", "issue_token", "rotate_signing_key"]
