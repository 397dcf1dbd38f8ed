"""Claim-check (issue 17): a sealed secret or config travels on the bus as a *reference plus
digest*, ``claim:<holder>:sha256:<hex>``, and the service that needs it fetches it over
authenticated HTTP from the service that holds it.

Why: a sealed rkestate of a large cluster is over NATS's 1 MiB ``max_payload``, and every
copy of a secret on the bus is one more copy in the streams' storage. So

* the orchestrator sends an executor job's secrets (kubeconfig, join token, cluster.yml,
  rkestate) as references to what it keeps, never inline;
* an event whose sealed value is larger than ``AUTORKE_CLAIM_THRESHOLD_BYTES`` (the
  executor's rkestate after an rke run, the inventory's new config version) carries a
  reference to its own service instead;
* a reference is passed on as it is (the orchestrator never needs the plaintext, nor holds
  the key), and resolved only where the value is opened: in the executor and the inventory.

The holder keeps the sealed value in its ``claims`` table (by digest, written in the same
unit of work as the message that names it) and serves it at ``GET /internal/v1/claims/{digest}``
to its trusted *readers* only (``AUTORKE_CLAIM_READERS``, public keys as for signed
commands). A reader proves itself with a request signed with its Ed25519 key
(:mod:`autorke_common.signing`): the digest, the holder and the time are signed, and a
request older than a minute is refused. The answer is still sealed, and the reader checks
its digest against the reference before using it, so neither a replica that answers
wrongly nor anyone on the path can substitute a value the signed command did not name.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Path
from sqlalchemy import select

from autorke_common.envelope import Envelope
from autorke_common.errors import PermanentError, Problem, TemporaryError
from autorke_common.outbox import Database
from autorke_common.replicas import Failover, primary
from autorke_common.signing import BadSignature, Signer, UnsignedCommand, Verifier, parse_signers

log = logging.getLogger(__name__)

PREFIX = "claim:"
PATH = "/internal/v1/claims/{digest}"
SCHEME = "AutoRKE-Claim"
REQUEST_TYPE = "autorke.claims.fetch"
#: how old a signed fetch may be (a captured request is useless after it)
REQUEST_MAX_AGE_S = 60.0
DIGEST = "sha256:"


def digest_of(sealed: str) -> str:
    return DIGEST + hashlib.sha256(sealed.encode()).hexdigest()


def reference(holder: str, digest: str) -> str:
    return f"{PREFIX}{holder}:{digest}"


def parse(value: Any) -> tuple[str, str] | None:
    """(holder, digest) of a reference; None for anything else (an inline sealed value)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    holder, _, digest = value[len(PREFIX):].partition(":")
    hexpart = digest[len(DIGEST):]
    if not holder or not digest.startswith(DIGEST) or len(hexpart) != 64 \
            or any(c not in "0123456789abcdef" for c in hexpart):
        raise ClaimRefused(f"{value[:80]!r} is not a claim reference (claim:<holder>:sha256:<64 hex>)")
    return holder, digest


def inline_only(value: str) -> str:
    """What a service without a claim client resolves: inline values only."""
    if parse(value) is not None:
        raise ClaimRefused(f"{value[:60]}…: this service fetches no claims (AUTORKE_SIGNING_KEY_FILE is not set)")
    return value


class ClaimUnavailable(TemporaryError):
    """The holder could not be reached or did not answer in time: try again later."""


class ClaimRefused(PermanentError):
    """The reference is malformed, names an unknown holder, the holder refused this reader,
    does not hold it, or answered a value whose digest is not the reference's."""


# -- the holder's side (a unit of work keeps claims: ``UnitOfWork.claim``) ----------------------
def held(db: Database, digest: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.execute(select(db.tables.claims.c.sealed)
                            .where(db.tables.claims.c.digest == digest)).scalar_one_or_none()


def _refusal(status: int, slug: str, detail: str) -> Problem:
    return Problem(slug, slug.replace("-", " ").capitalize(), status, detail)


def router(db: Database, holder: str, readers: Verifier) -> APIRouter:
    """``GET /internal/v1/claims/{digest}`` for the trusted readers (not in the public API:
    it answers a signed request, never a bearer token)."""
    api = APIRouter(include_in_schema=False)

    @api.get(PATH)
    def fetch(digest: Annotated[str, Path(max_length=80)],
              authorization: Annotated[str | None, Header()] = None) -> dict[str, str]:
        reader = _reader(authorization, holder, digest, readers)
        sealed = held(db, digest)
        if sealed is None:
            raise _refusal(404, "claim-not-found", f"{holder} holds no claim {digest}")
        log.info("claim %s fetched by %s", digest[:23], reader)
        return {"digest": digest, "sealed": sealed}

    return api


def _reader(authorization: str | None, holder: str, digest: str, readers: Verifier) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != SCHEME or not token:
        raise _refusal(401, "claim-unauthenticated", f"a claim is fetched with a signed {SCHEME} request")
    try:
        env = Envelope.model_validate_json(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        raise _refusal(401, "claim-unauthenticated", "the claim request is not readable") from None
    data = env.data or {}
    if env.type != REQUEST_TYPE or data.get("digest") != digest or data.get("holder") != holder:
        raise _refusal(403, "claim-forbidden", "the signed request names another claim or holder")
    try:
        return readers.verify(env)
    except (UnsignedCommand, BadSignature) as exc:
        raise _refusal(403, "claim-forbidden", exc.detail) from None


def readers_from(settings: Any) -> Verifier | None:
    """The trusted readers (``AUTORKE_CLAIM_READERS``); None: this service holds no claims."""
    keys = parse_signers(getattr(settings, "claim_readers", None))
    return Verifier(keys, REQUEST_MAX_AGE_S) if keys else None


# -- the reader's side ------------------------------------------------------------------------
class ClaimClient:
    """Fetches referenced values from their holders. A class because it holds the signing
    key, one pooled HTTP client per holder (each fails over between its replicas) and the
    last values fetched: a reference names one value for ever, so a kubeconfig every job of a
    change names is fetched once, not once per job."""

    def __init__(self, reader: str, signer: Signer, holders: Mapping[str, str], timeout_s: float = 10.0,
                 attempts: int = 3, transport: httpx.BaseTransport | None = None, kept: int = 64) -> None:
        self.reader = reader
        self._signer = signer
        self._attempts = attempts
        self._clients = {name: (primary(url), httpx.Client(timeout=timeout_s,
                                                           transport=Failover([url], transport)))
                         for name, url in holders.items() if url}
        self._fetched: OrderedDict[str, str] = OrderedDict()  # reference -> sealed, newest last
        self._kept = kept
        self._lock = threading.Lock()

    def resolve(self, value: str) -> str:
        """``value`` itself, or the sealed value its reference names (digest checked)."""
        found = parse(value)
        if found is None:
            return value
        with self._lock:
            if value in self._fetched:
                self._fetched.move_to_end(value)
                return self._fetched[value]
        sealed = self._fetch(*found)
        with self._lock:
            self._fetched[value] = sealed
            while len(self._fetched) > self._kept:
                self._fetched.popitem(last=False)
        return sealed

    def _fetch(self, holder: str, digest: str) -> str:
        if holder not in self._clients:
            raise ClaimRefused(f"{self.reader} knows no address of claim holder {holder!r}")
        base, client = self._clients[holder]
        for attempt in range(1, self._attempts + 1):
            try:
                resp = client.get(base + PATH.format(digest=digest),
                                  headers={"Authorization": self._authorization(holder, digest)})
            except httpx.HTTPError as exc:
                why = f"unreachable: {exc.__class__.__name__}"
            else:
                if resp.status_code < 500:
                    return self._checked(holder, digest, resp)
                why = f"answered {resp.status_code}"
            if attempt < self._attempts:
                time.sleep(0.5 * attempt)
        raise ClaimUnavailable(f"claim holder {holder} {why}")

    def _checked(self, holder: str, digest: str, resp: httpx.Response) -> str:
        if resp.status_code != 200:
            raise ClaimRefused(f"claim holder {holder} refused {digest[:23]}…: {resp.status_code} "
                               f"{_slug(resp)}")
        sealed = str(resp.json().get("sealed", ""))
        if digest_of(sealed) != digest:
            raise ClaimRefused(f"claim holder {holder} answered a value that is not {digest[:23]}…")
        return sealed

    def _authorization(self, holder: str, digest: str) -> str:
        env = Envelope(type=REQUEST_TYPE, source=self.reader, subject=REQUEST_TYPE, id=str(uuid.uuid4()),
                       data={"digest": digest, "holder": holder})
        return f"{SCHEME} " + base64.urlsafe_b64encode(self._signer.sign(env).model_dump_json().encode()) \
            .decode().rstrip("=")


def _slug(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("type", "")).rsplit("/", 1)[-1]
    except (ValueError, AttributeError):
        return ""


def client_from(settings: Any) -> ClaimClient | None:
    """This service as a reader (its ``AUTORKE_SIGNING_KEY_FILE`` and each holder's URL
    setting); None without a signing key."""
    path = getattr(settings, "signing_key_file", None)
    if not path:
        return None
    holders = {name: getattr(settings, f"{name}_url", None) for name in ("orchestrator", "inventory", "executor")}
    return ClaimClient(settings.service_name, Signer.from_file(path), holders)
