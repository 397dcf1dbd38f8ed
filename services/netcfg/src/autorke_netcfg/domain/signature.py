"""Checking a VCalico callback's signature before its body is even parsed (P9).

The scheme is VCalico's (Stripe/GitHub style): ``X-VCalico-Timestamp`` is the send time in
integer Unix seconds; ``X-VCalico-Signature`` is ``sha256=`` and the hex HMAC-SHA256, keyed
with the shared secret, of ``timestamp + "." + raw body``. Digests are compared in constant
time and a timestamp outside the tolerance window is refused, which bounds replays; the
callback's ``event_id`` de-duplicates the rest (in the service layer).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TIMESTAMP_HEADER = "x-vcalico-timestamp"
SIGNATURE_HEADER = "x-vcalico-signature"
PREFIX = "sha256="


class SignatureRejected(Exception):
    """The callback is unsigned, signed with another secret, or outside the window."""


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float,
           tolerance_s: float) -> None:
    """Raise :class:`SignatureRejected` unless ``body`` is signed and fresh."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER, "")
    given = lowered.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or not given.startswith(PREFIX):
        raise SignatureRejected("missing or malformed signature headers")
    if abs(now - int(timestamp)) > tolerance_s:
        raise SignatureRejected("timestamp outside the accepted window")
    if not hmac.compare_digest(expected_signature(secret, timestamp, body), given):
        raise SignatureRejected("signature does not match")
