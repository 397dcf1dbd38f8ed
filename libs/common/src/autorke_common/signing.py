"""Signed commands (issue 15, C2): a command that makes a service touch machines or change
what it records carries an Ed25519 signature of its sender, and the receiver checks it
before doing anything — so a message published by anyone else on the bus (a local user
on the ``autorke up`` host, a compromised container) is refused, whatever it says.

Who signs what, and who checks it (README, Security):

* the orchestrator signs every command it sends (``executor.run``, ``inventory.*``, ...);
* the inventory signs the executor jobs it sends itself (``script``/``facts``,
  ``kube``/``list_nodes``);
* the executor checks every ``executor.run``, the inventory every ``inventory.*`` command,
  each against its own list of trusted public keys by signer name
  (``AUTORKE_COMMAND_SIGNERS``) and what each signer may ask (a *scope*, the receiver's rule).

What is signed (:func:`canonical`): the envelope's ``type``, ``schema_version`` and ``id``
(the command id: a signed command cannot be re-sent under another id) and every field of
the command's data but the signature itself — for ``executor.run`` the job id, change id,
kind, action, every target (address, port, user, host key, bastion), the fence, params,
timeouts, ``requested_by`` — with each secret (``secrets`` values and ``*_sealed`` fields)
replaced by its SHA-256 digest, and ``issued_at`` and ``signed_by`` (the key id). The bytes
are canonical JSON (sorted keys, no spaces, UTF-8) after a domain-separation prefix.

The signature travels **in the command** (``signature``, ``signed_by``, ``issued_at``: fields
of every catalogue command), not in the envelope: it is part of the wire contract the
catalogue documents, it is checked against exactly the data the receiver then parses, and
it stays with the command wherever the command is kept (a dead letter's payload). The
envelope's own id and type are covered too, so nothing outside the data can be swapped.

A key id is the first 16 hex digits of the SHA-256 of the raw public key; the receiver
finds the key by it and takes the signer's *name* from its own configuration, never from
the message. Two keys of one signer may be trusted at once: that is how a key is rotated.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from autorke_common.envelope import Envelope, utcnow
from autorke_common.errors import Forbidden

#: Prefix of every signed byte string: a signature over something else never verifies here.
DOMAIN = b"autorke-command-v1\n"
#: The fields of a command's data that carry the signature (``signature`` is not signed).
SIGNATURE_FIELDS = ("signature", "signed_by", "issued_at")
#: A command issued this far in the future (clock skew between hosts) is still accepted.
CLOCK_SKEW_S = 60.0


class UnsignedCommand(Forbidden):
    """The command carries no signature (``unsigned-command``): refused, nothing done."""

    def __init__(self, detail: str) -> None:
        super().__init__("unsigned-command", detail)


class BadSignature(Forbidden):
    """The signature does not verify, its key is not trusted, its signer may not ask this,
    or it is too old (``bad-signature``): refused, nothing done."""

    def __init__(self, detail: str) -> None:
        super().__init__("bad-signature", detail)


class ExpiredCommand(BadSignature):
    """A good signature, but older than the receiver's maximum age (a replay, or a command
    that waited too long): refused unless the receiver already accepted it once."""


# -- what is signed -------------------------------------------------------------------------
def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _digested(data: Mapping[str, Any]) -> dict[str, Any]:
    """The command's data as signed: without its signature, each secret by its digest."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "signature":
            continue
        if key == "secrets" and isinstance(value, dict):
            value = {name: digest(v) for name, v in value.items()}
        elif key.endswith("_sealed") and value is not None:
            value = digest(value)
        out[key] = value
    return out


def canonical(type_: str, version: int, command_id: str, data: Mapping[str, Any]) -> bytes:
    """The bytes a command's signature is over (see the module's docstring)."""
    doc = {"type": type_, "version": version, "command_id": command_id, "data": _digested(data)}
    return DOMAIN + json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                               allow_nan=False).encode()


def _of(envelope: Envelope) -> bytes:
    return canonical(envelope.type, envelope.schema_version, envelope.id, envelope.data or {})


# -- keys ---------------------------------------------------------------------------------
def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The short, stable name of a public key: what ``signed_by`` says."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def public_text(key: Ed25519PublicKey) -> str:
    """The public key as ``AUTORKE_COMMAND_SIGNERS`` writes it: base64 of the 32 raw bytes."""
    return base64.b64encode(raw_public(key)).decode()


def generate_key(path: Path) -> Ed25519PublicKey:
    """A new private key in ``path`` (PEM, PKCS#8, mode 0600, written so that it is never
    readable by others, not even for a moment); returns its public key. An existing file is
    kept and its key returned: a restart reuses the keys it made."""
    if path.exists():
        return load_private_key(path).public_key()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key.public_key()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"AUTORKE_SIGNING_KEY_FILE {path}: not a readable PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"AUTORKE_SIGNING_KEY_FILE {path}: not an Ed25519 key")
    return key


@dataclass(frozen=True)
class TrustedKey:
    """A public key the receiver trusts, and the name of the signer that holds it."""

    signer: str
    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.key)


def parse_signers(spec: str | None) -> list[TrustedKey]:
    """``orchestrator=<base64>,inventory=<base64>`` (a name may appear twice: a rotation)."""
    keys: list[TrustedKey] = []
    for item in (spec or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, text = item.partition("=")
        try:
            raw = base64.b64decode(text.strip(), validate=True) if sep else b""
            if not name.strip() or len(raw) != 32:
                raise ValueError
            keys.append(TrustedKey(name.strip(), Ed25519PublicKey.from_public_bytes(raw)))
        except (ValueError, binascii.Error):
            raise ValueError(f"AUTORKE_COMMAND_SIGNERS: {item[:40]!r} is not <name>=<base64 of a "
                             "32-byte Ed25519 public key>") from None
    return keys


# -- signing and verifying ----------------------------------------------------------------
class Signer:
    """Signs the commands one service sends. A class because it holds the private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_file(cls, path: Path | str) -> Signer:
        return cls(load_private_key(Path(path)))

    def sign(self, envelope: Envelope, now: datetime | None = None) -> Envelope:
        """The envelope with its command signed (``issued_at``, ``signed_by``, ``signature``)."""
        data = {**(envelope.data or {}), "issued_at": _iso(now or utcnow()), "signed_by": self.key_id}
        data.pop("signature", None)
        signed = envelope.model_copy(update={"data": data})
        signature = self._key.sign(_of(signed))
        return envelope.model_copy(update={"data": {**data, "signature": _b64(signature)}})


#: (signer name, envelope) -> whether that signer may send this command
Scope = Callable[[str, Envelope], bool]


def anything(_: str, __: Envelope) -> bool:
    return True


class Verifier:
    """Checks a received command's signature against the trusted keys, the scope of its
    signer and its age. A class because it holds the trusted keys."""

    def __init__(self, keys: Iterable[TrustedKey], max_age_s: float = 3600.0, scope: Scope = anything) -> None:
        self._keys = {k.key_id: k for k in keys}
        if not self._keys:
            raise ValueError("AUTORKE_COMMAND_SIGNERS is not set: no command could ever be verified")
        self.max_age = timedelta(seconds=max_age_s)
        self.scope = scope

    @property
    def signers(self) -> list[str]:
        return sorted({k.signer for k in self._keys.values()})

    def verify(self, envelope: Envelope, now: datetime | None = None) -> str:
        """The name of the command's signer; raises :class:`UnsignedCommand`,
        :class:`BadSignature` or (a good signature, too old) :class:`ExpiredCommand`."""
        data = envelope.data or {}
        signature, kid = data.get("signature"), data.get("signed_by")
        if not signature or not kid:
            raise UnsignedCommand(f"{envelope.type} {envelope.id} carries no signature")
        trusted = self._keys.get(str(kid))
        if trusted is None:
            raise BadSignature(f"{envelope.type} {envelope.id} is signed by key {str(kid)[:32]!r}, "
                               "which this service does not trust")
        try:
            trusted.key.verify(base64.urlsafe_b64decode(_padded(str(signature))), _of(envelope))
        except (InvalidSignature, ValueError, binascii.Error, TypeError):
            raise BadSignature(f"{envelope.type} {envelope.id}: the signature of {trusted.signer} "
                               "does not match the command (altered, or signed for another one)") from None
        if not self.scope(trusted.signer, envelope):
            raise BadSignature(f"{envelope.type} {envelope.id}: {trusted.signer} may not sign this command")
        issued = _parse_time(data.get("issued_at"))
        now = now or utcnow()
        if issued is None:
            raise BadSignature(f"{envelope.type} {envelope.id}: issued_at is missing or unreadable")
        if issued > now + timedelta(seconds=CLOCK_SKEW_S):
            raise BadSignature(f"{envelope.type} {envelope.id} was issued in the future ({_iso(issued)})")
        if now - issued > self.max_age:
            raise ExpiredCommand(f"{envelope.type} {envelope.id} was signed at {_iso(issued)}, more than "
                                 f"{self.max_age.total_seconds():g} s ago")
        return trusted.signer


# -- from settings --------------------------------------------------------------------------
def signer_from(settings: Any) -> Signer:
    """The service's signer (``AUTORKE_SIGNING_KEY_FILE``); a service that sends commands
    does not start without one, so nothing is ever sent unsigned by accident."""
    path = getattr(settings, "signing_key_file", None)
    if not path:
        raise ValueError(f"AUTORKE_SIGNING_KEY_FILE is not set: {settings.service_name} signs the "
                         "commands it sends and cannot start without its private key")
    return Signer.from_file(Path(path).expanduser())


def verifier_from(settings: Any, scope: Scope = anything) -> Verifier:
    """The service's verifier (``AUTORKE_COMMAND_SIGNERS``, ``AUTORKE_COMMAND_MAX_AGE_S``);
    a service that obeys commands does not start without trusted signers."""
    keys = parse_signers(getattr(settings, "command_signers", None))
    if not keys:
        raise ValueError(f"AUTORKE_COMMAND_SIGNERS is not set: {settings.service_name} obeys only "
                         "signed commands and cannot start without the signers' public keys")
    return Verifier(keys, getattr(settings, "command_max_age_s", 3600.0), scope)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _parse_time(value: Any) -> datetime | None:
    try:
        t = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def main(argv: list[str] | None = None) -> int:
    """``python -m autorke_common.signing <folder>``: the orchestrator's, the inventory's and
    the executor's key pairs in ``<folder>`` (kept when present), the ``AUTORKE_COMMAND_SIGNERS``
    value of the executor, the inventory and netcfg, and the ``AUTORKE_CLAIM_READERS`` value of
    each claim holder (compose, Kubernetes: see README, Security)."""
    import sys

    from autorke_common.supervisor import CLAIM_READERS, COMMAND_VERIFIERS, KEY_HOLDERS

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m autorke_common.signing <folder for the services' private keys>", file=sys.stderr)
        return 2
    folder = Path(args[0])
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    public = {name: public_text(generate_key(folder / f"{name}.pem")) for name in KEY_HOLDERS}
    for name, trusted in COMMAND_VERIFIERS.items():
        print(f"AUTORKE_{name.upper()}_COMMAND_SIGNERS=" + ",".join(f"{s}={public[s]}" for s in trusted))
    for name, readers in CLAIM_READERS.items():
        print(f"AUTORKE_{name.upper()}_CLAIM_READERS=" + ",".join(f"{r}={public[r]}" for r in readers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
