"""Sealing secrets that must cross the bus or rest in a database (kubeconfigs, rkestate,
join tokens): Fernet (AES-128-CBC + HMAC-SHA256) under subkeys derived from the platform's
``AUTORKE_SECRET_KEY``. A sealed value is opaque text; only a holder of the key opens it.

The key is 32 random bytes, base64 (URL-safe or standard, padding optional): anything
shorter, longer or visibly not random (a passphrase, a repeated byte) refuses to start, so
a value sealed on the bus or in a dead-letter event cannot be opened by guessing the key
offline. Each use gets its own subkey, HKDF-SHA256 of the key with the use's ``purpose``
as ``info``: a subkey that leaks (or a value sealed for one purpose) is no use for another.

Several keys may be given, comma-separated, newest first: new values are sealed with the
first, old values still open (rotation). :meth:`SecretBox.rotate` re-seals a value under
the newest key; once every stored value has been rotated, the old key can be dropped.
Values sealed before the HKDF derivation (the key hashed with SHA-256) still open, for
rotation only: nothing is sealed that way any more.

``python -m autorke_common.secrets`` prints a new key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from autorke_common.errors import PermanentError

KEY_BYTES = 32
#: Fewer distinct byte values than this in 32 bytes is no random key (32 random bytes have
#: about 30; 16 or fewer happens with a probability far below 2^-100).
_LEAST_DISTINCT_BYTES = 17
_SALT = b"autorke-secretbox-v1"
HOW_TO_MAKE_ONE = "make one with: python -m autorke_common.secrets"


class WeakSecretKey(ValueError):
    """AUTORKE_SECRET_KEY is not 32 random bytes in base64."""


def generate_key() -> str:
    """A new platform key: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def key_bytes(key: str) -> bytes:
    """The 32 bytes ``key`` encodes; :class:`WeakSecretKey` (saying why, never the key) when
    it is no base64 of 32 random bytes."""
    text = key.strip()
    padded = text + "=" * (-len(text) % 4)
    altchars = b"-_" if ("-" in text or "_" in text) else b"+/"
    try:
        raw = base64.b64decode(padded.encode("ascii"), altchars=altchars, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise WeakSecretKey(f"AUTORKE_SECRET_KEY must be {KEY_BYTES} random bytes in base64; this is not base64 "
                            f"({len(text)} characters); {HOW_TO_MAKE_ONE}") from None
    if len(raw) != KEY_BYTES:
        raise WeakSecretKey(f"AUTORKE_SECRET_KEY must be {KEY_BYTES} random bytes in base64; this one holds "
                            f"{len(raw)} bytes; {HOW_TO_MAKE_ONE}")
    if len(set(raw)) < _LEAST_DISTINCT_BYTES:
        raise WeakSecretKey(f"AUTORKE_SECRET_KEY must be {KEY_BYTES} random bytes in base64; these are not "
                            f"random ({len(set(raw))} distinct values); {HOW_TO_MAKE_ONE}")
    return raw


def parse_keys(secret_keys: str) -> list[bytes]:
    """Every key of a comma-separated list (newest first), each checked."""
    keys = [k for k in (part.strip() for part in secret_keys.split(",")) if k]
    if not keys:
        raise WeakSecretKey(f"AUTORKE_SECRET_KEY is empty; {HOW_TO_MAKE_ONE}")
    out = []
    for n, key in enumerate(keys, 1):
        try:
            out.append(key_bytes(key))
        except WeakSecretKey as exc:
            raise WeakSecretKey(f"key {n} of {len(keys)}: {exc}" if len(keys) > 1 else str(exc)) from None
    return out


def subkey(key: bytes, purpose: str) -> bytes:
    """The Fernet key for ``purpose``: HKDF-SHA256 (fixed salt, the purpose as info)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT,
                   info=f"autorke:{purpose}".encode()).derive(key)
    return base64.urlsafe_b64encode(derived)


def _legacy(key_text: str) -> bytes:
    """The derivation before HKDF (one SHA-256 of the key text): opening only."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"autorke-secretbox:" + key_text.encode()).digest())


class SecretBox:
    """Seals and opens values for one ``purpose`` (``secrets``: what the inventory, executor
    and netcfg pass each other; every service holding the key derives the same subkey)."""

    def __init__(self, secret_keys: str, purpose: str = "secrets") -> None:
        texts = [k.strip() for k in secret_keys.split(",") if k.strip()]
        keys = parse_keys(secret_keys)
        self.purpose = purpose
        self._sealers = [Fernet(subkey(k, purpose)) for k in keys]
        self._fernet = MultiFernet(self._sealers)
        self._openers = MultiFernet([*self._sealers, *(Fernet(_legacy(t)) for t in texts)])

    def seal(self, plaintext: str | bytes) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._fernet.encrypt(data).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._openers.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise PermanentError("sealed value cannot be opened with this platform's secret key") from None

    def rotate(self, sealed: str) -> str:
        """``sealed`` re-sealed under the newest key (and the current derivation), keeping
        its original timestamp; :class:`PermanentError` when no key opens it."""
        try:
            return self._openers.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise PermanentError("sealed value cannot be opened with this platform's secret key") from None

    def is_current(self, sealed: str) -> bool:
        """Sealed under the newest key's subkey: nothing to rotate."""
        try:
            self._sealers[0].decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True


if __name__ == "__main__":
    print(generate_key())
