"""How VCalico signs its callbacks, and how a receiver checks them.

This is the contract the netcfg service implements on its side, so it is spelled out
exactly here (netcfg must not import this module: the lab is never imported by services).

Scheme (HMAC-SHA256 with a shared secret, Stripe/GitHub style):

- ``X-VCalico-Timestamp``: the send time, integer seconds since the Unix epoch, as ASCII
  decimal (e.g. ``1732844400``).
- ``X-VCalico-Signature``: ``sha256=`` followed by the lower-case hex digest of
  ``HMAC-SHA256(key=secret_utf8, msg=timestamp_ascii + b"." + raw_body_bytes)``.
- ``X-VCalico-Delivery``: a UUID naming this delivery attempt; ``X-VCalico-Event``: the
  UUID of the callback event (the same on a duplicate delivery of the same answer).
- The body is the raw JSON bytes as sent (``Content-Type: application/json``); a receiver
  must verify over the bytes it received, before parsing them.
- A receiver compares digests in constant time and rejects a timestamp more than
  ``tolerance_s`` (300 s by default) away from its clock, which bounds replays; it must
  also de-duplicate on the event id (``event_id`` in the body), because VCalico may
  deliver the same event more than once.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-VCalico-Timestamp"
SIGNATURE_HEADER = "X-VCalico-Signature"
DELIVERY_HEADER = "X-VCalico-Delivery"
EVENT_HEADER = "X-VCalico-Event"
SCHEME_PREFIX = "sha256="
DEFAULT_TOLERANCE_S = 300


class BadSignature(Exception):
    """The callback is not signed with the shared secret, or is too old."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-VCalico-Signature`` value for ``body`` sent at ``timestamp``."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SCHEME_PREFIX + digest


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """Timestamp and signature headers for a body about to be sent."""
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise :class:`BadSignature` unless ``body`` carries a valid, fresh signature.

    ``headers`` is looked up case-insensitively (any mapping of header names).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ts = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not raw_ts.isdigit() or not given.startswith(SCHEME_PREFIX):
        raise BadSignature("missing or malformed signature headers")
    current = time.time() if now is None else now
    if abs(current - int(raw_ts)) > tolerance_s:
        raise BadSignature("timestamp outside the tolerance window")
    if not hmac.compare_digest(sign(secret, int(raw_ts), body), given):
        raise BadSignature("signature mismatch")
