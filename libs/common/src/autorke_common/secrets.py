"""Sealing secrets that must cross the bus or rest in a database (kubeconfigs, rkestate,
join tokens): Fernet (AES-128-CBC + HMAC-SHA256) with keys derived from the platform's
``AUTORKE_SECRET_KEY``. A sealed value is opaque text; only a holder of the key opens it.
Several keys may be given, comma-separated, newest first: new values are sealed with the
first, old values still open (key rotation)."""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from autorke_common.errors import PermanentError


class SecretBox:
    def __init__(self, secret_keys: str) -> None:
        keys = [k.strip() for k in secret_keys.split(",") if k.strip()]
        if not keys:
            raise ValueError("AUTORKE_SECRET_KEY is empty")
        self._fernet = MultiFernet([Fernet(self._derive(k)) for k in keys])

    @staticmethod
    def _derive(key: str) -> bytes:
        return base64.urlsafe_b64encode(hashlib.sha256(b"autorke-secretbox:" + key.encode()).digest())

    def seal(self, plaintext: str | bytes) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._fernet.encrypt(data).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise PermanentError("sealed value cannot be opened with this platform's secret key") from None
