"""Checking a VCalico callback's signature before its body is even parsed (P9).

The scheme is VCalico's (Stripe/GitHub style): ``X-VCalico-Timestamp`` is the send time in
integer Unix seconds; ``X-VCalico-Signature`` is ``sha256=`` and the hex HMAC-SHA256, keyed
with the shared secret, of ``timestamp + "." + raw body``. Digests are compared in constant
time and a timestamp outside the tolerance window is refused, which bounds replays; the
callback's ``event_id`` de-duplicates the rest (in the service layer). Both headers must be
plain ASCII in exactly that form (up to 12 decimal digits; ``sha256=`` and 64 lowercase hex
digits): anything else — a Unicode digit such as ``²``, which ``str.isdigit`` accepts but
``int`` does not, or a non-ASCII signature, which ``compare_digest`` cannot compare — is a
refusal like any bad signature, never an error.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

TIMESTAMP_HEADER = "x-vcalico-timestamp"
SIGNATURE_HEADER = "x-vcalico-signature"
PREFIX = "sha256="
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")


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
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(given):
        raise SignatureRejected("missing or malformed signature headers")
    if abs(now - int(timestamp)) > tolerance_s:
        raise SignatureRejected("timestamp outside the accepted window")
    if not hmac.compare_digest(expected_signature(secret, timestamp, body), given):
        raise SignatureRejected("signature does not match")
