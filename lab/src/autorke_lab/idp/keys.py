"""The identity provider's signing key and the claims of the tokens it signs.

The RSA key lives in the IdP's state directory (``signing-key.json``, mode 0600) with the
issuer URL (``issuer``), so the running server and ``autorke lab token USER`` — which runs
in another process, possibly while the server is down — sign with the same key and the
platform validates both against the same JWKS. Nothing here logs a key or a token.

:func:`rotate_signing_key` replaces the key the way an IdP revokes a leaked one: the new
key is the only one the JWKS publishes from then on (the running server notices the file
changed, :class:`SigningKeys`), so a token signed with the old key must stop being accepted
once the platform's cache of the JWKS expires.

Access token (JWT, RS256, header ``kid`` and ``typ: at+jwt``), claims:
``iss``, ``sub`` (the username, or the client id for client credentials), ``aud``
(``autorke``), ``client_id``, ``iat``, ``exp``, ``jti``, ``scope``, ``roles`` (list),
and for users ``preferred_username``, ``name``, ``email``.
ID token: ``iss``, ``sub``, ``aud`` (the client id), ``iat``, ``exp``, ``auth_time``,
``nonce`` when sent, ``at_hash``, ``preferred_username``, ``name``, ``email``, ``roles``.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .directory import USERS, User

AUDIENCE = "autorke"
KEY_FILE = "signing-key.json"
ISSUER_FILE = "issuer"
LAB_TOKEN_TTL_S = 12 * 3600


class UnknownUser(KeyError):
    """Not one of the lab users."""


def load_or_create_key(state_dir: Path) -> RSAKey:
    """The IdP's private key, generated once per state directory."""
    path = state_dir / KEY_FILE
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text()))
    state_dir.mkdir(parents=True, exist_ok=True)
    key = _new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(key.as_dict(private=True), f)
    return key


def _new_key() -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"})
    key.ensure_kid()
    return key


def rotate_signing_key(state_dir: Path) -> str:
    """Replace the IdP's signing key with a new one (its ``kid`` is returned); the old key
    is gone from the JWKS at once, as when a leaked key is revoked. The file is replaced
    atomically (written beside it with mode 0600, then renamed), so a reader never sees
    half a key."""
    path = state_dir / KEY_FILE
    key = _new_key()
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(key.as_dict(private=True), f)
    os.replace(tmp, path)
    return key.kid


class SigningKeys:
    """The running server's signing key, read again from the state directory when the file
    changes (:func:`rotate_signing_key` from another process), so the JWKS, the tokens the
    server signs and ``autorke lab token`` always agree on one key."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._lock = threading.Lock()
        self._key = load_or_create_key(state_dir)
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int, int]:
        st = (self.state_dir / KEY_FILE).stat()
        return st.st_ino, st.st_mtime_ns, st.st_size

    def current(self) -> RSAKey:
        with self._lock:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._key, self._stamp = load_or_create_key(self.state_dir), stamp
            return self._key


def public_jwks(key: RSAKey) -> dict:
    return KeySet([key]).as_dict(private=False)


def user_claims(user: User) -> dict:
    return {
        "preferred_username": user.username,
        "name": user.name,
        "email": user.email,
        "roles": list(user.roles),
    }


def access_token_claims(
    issuer: str, client_id: str, scope: str, ttl_s: int, user: User | None, roles=()
) -> dict:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": user.username if user else client_id,
        "aud": AUDIENCE,
        "client_id": client_id,
        "iat": now,
        "exp": now + ttl_s,
        "jti": generate_token(16),
        "scope": scope,
        "roles": list(user.roles) if user else list(roles),
    }
    if user:
        claims.update(user_claims(user))
    return claims


def sign(key: RSAKey, claims: dict, typ: str = "JWT") -> str:
    return jwt.encode({"alg": "RS256", "typ": typ}, claims, KeySet([key]))


def issue_token(username: str, state_dir: Path | None = None, ttl_s: int = LAB_TOKEN_TTL_S,
                claims: dict | None = None) -> str:
    """A bearer access token for lab user ``username`` (for ``autorke lab token USER``).

    Signed with the IdP's key from ``state_dir`` (default: :func:`default_state_dir`), as
    if the user had logged in on the CLI client; validates against the IdP's JWKS.
    ``claims`` replace the user's own (tests: a user renamed in the IdP, two users with one
    display name, a subject the platform reserves).
    """
    user = USERS.get(username)
    if user is None:
        raise UnknownUser(f"no lab user {username!r}; lab users: {', '.join(USERS)}")
    state_dir = state_dir or default_state_dir()
    issuer_path = state_dir / ISSUER_FILE
    if not issuer_path.exists():
        raise FileNotFoundError(f"identity provider state not found in {state_dir}: start the lab")
    key = load_or_create_key(state_dir)
    signed = access_token_claims(
        issuer_path.read_text().strip(), "autorke-cli", "openid profile roles", ttl_s, user
    )
    return sign(key, {**signed, **(claims or {})}, typ="at+jwt")


def default_state_dir() -> Path:
    """``$AUTORKE_LAB_IDP_STATE_DIR``, else ``<$AUTORKE_DATA_DIR or .autorke>/lab/idp``."""
    explicit = os.environ.get("AUTORKE_LAB_IDP_STATE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("AUTORKE_DATA_DIR", ".autorke")) / "lab" / "idp"
