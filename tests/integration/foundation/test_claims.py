"""Claim-check (issue 17), on the real database and over real HTTP: a sealed value larger
than the bus allows travels as a reference, kept by the unit of work that names it, and a
trusted reader fetches it with a signed request and checks its digest. Everyone else, an
old or misdirected request, an unknown claim and a holder that answers another value are
refused; a holder that cannot be reached is a temporary error; an event still over the
limit fails its unit of work, keeping nothing."""
from __future__ import annotations

import base64
import secrets
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from autorke_common import claims
from autorke_common.app import install_problem_handlers
from autorke_common.envelope import Envelope, utcnow
from autorke_common.natsserver import free_port
from autorke_common.outbox import MessageTooLarge
from autorke_common.relay import OutboxRelay
from autorke_common.signing import Verifier, parse_signers
from fixtures.raw_http import ServedApp
from fixtures.signing import signer, trusted

from .probe_service import ProbeHappened, build_db

BIG = 2 * 1024 * 1024  # twice NATS's max_payload: a sealed rkestate of a large cluster


def _holder(db) -> ServedApp:
    app = FastAPI()
    install_problem_handlers(app)  # as every service's app: problem+json
    app.include_router(claims.router(db, "orchestrator", Verifier(parse_signers(trusted("executor")), 60)))
    return ServedApp(app)


def _count(db, table) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


def test_a_large_sealed_value_travels_by_reference_and_only_a_trusted_reader_fetches_it(database):
    url, schema = database
    db, _ = build_db(url, schema)
    db.name = "orchestrator"
    sealed = base64.b64encode(secrets.token_bytes(BIG * 3 // 4)).decode()
    with db.unit_of_work() as uow:
        ref = uow.claim(sealed)
        uow.emit(Envelope.of(ProbeHappened(n=1), source="probe"))  # the message naming it, in the same unit
        uow.commit()
    assert ref == f"claim:orchestrator:{claims.digest_of(sealed)}" and len(ref) < 100
    with db.unit_of_work() as uow:  # kept once per digest
        assert uow.claim(sealed) == ref
        uow.commit()
    assert _count(db, db.tables.claims) == 1

    with _holder(db) as holder:
        reader = claims.ClaimClient("executor", signer("executor"), {"orchestrator": holder.url})
        assert reader.resolve(ref) == sealed
        assert reader.resolve("an inline sealed value") == "an inline sealed value"

        intruder = claims.ClaimClient("executor", signer("intruder"), {"orchestrator": holder.url})
        with pytest.raises(claims.ClaimRefused, match="403 claim-forbidden"):
            intruder.resolve(ref)
        unknown = f"claim:orchestrator:{claims.digest_of('never kept')}"
        with pytest.raises(claims.ClaimRefused, match="404 claim-not-found"):
            reader.resolve(unknown)
        with pytest.raises(claims.ClaimRefused, match="knows no address"):
            reader.resolve(f"claim:inventory:{claims.digest_of(sealed)}")
        with pytest.raises(claims.ClaimRefused, match="not a claim reference"):
            reader.resolve("claim:orchestrator:md5:abc")

        digest = claims.digest_of(sealed)
        path = holder.url + claims.PATH.format(digest=digest)
        assert httpx.get(path).status_code == 401, "no signed request, no claim"
        other = reader._authorization("orchestrator", claims.digest_of("another claim"))
        assert httpx.get(path, headers={"Authorization": other}).status_code == 403, "signed for another claim"
        old = Envelope(type=claims.REQUEST_TYPE, source="executor", subject=claims.REQUEST_TYPE,
                       data={"digest": digest, "holder": "orchestrator"})
        token = base64.urlsafe_b64encode(signer("executor").sign(old, now=utcnow() - timedelta(minutes=2))
                                         .model_dump_json().encode()).decode()
        answer = httpx.get(path, headers={"Authorization": f"{claims.SCHEME} {token}"})
        assert answer.status_code == 403 and "s ago" in answer.json()["detail"], "a captured request expires"

    liar = FastAPI()
    liar.get(claims.PATH)(lambda digest: {"digest": digest, "sealed": "something else"})
    with ServedApp(liar) as served, pytest.raises(claims.ClaimRefused, match="not sha256"):
        claims.ClaimClient("executor", signer("executor"), {"orchestrator": served.url}).resolve(ref)
    gone = claims.ClaimClient("executor", signer("executor"), {"orchestrator": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(claims.ClaimUnavailable):
        gone.resolve(ref)


def test_only_values_over_the_threshold_become_claims_and_old_claims_are_purged(database):
    url, schema = database
    db, _ = build_db(url, schema)
    db.claim_threshold = 1024
    with db.unit_of_work() as uow:
        small, large = "s" * 1024, "l" * 1025
        assert uow.claim_large(small) == small and uow.claim_large(None) is None
        ref = uow.claim_large(large)
        assert claims.parse(ref) == (db.name, claims.digest_of(large))
        assert uow.claim_large(ref) == ref, "a reference is passed on as it is"
        uow.commit()
    with db.engine.begin() as conn:
        conn.execute(update(db.tables.claims).values(created_at=utcnow() - timedelta(days=20)))
    OutboxRelay(db, bus=None, lock_name="x", claim_retention_s=15 * 86400.0).purge()
    assert _count(db, db.tables.claims) == 0
    with db.unit_of_work() as uow:
        uow.claim(large)
        uow.commit()
    OutboxRelay(db, bus=None, lock_name="x", claim_retention_s=None).purge()  # the inventory's: kept
    assert _count(db, db.tables.claims) == 1


def test_an_event_still_over_the_limit_fails_its_unit_of_work(database):
    url, schema = database
    db, _ = build_db(url, schema)
    huge = Envelope.of(ProbeHappened(n=1), source="probe")
    huge.data["padding"] = "x" * BIG
    with pytest.raises(MessageTooLarge, match="over the bus's limit"), db.unit_of_work() as uow:
        uow.claim("kept only with its unit")
        uow.emit(Envelope.of(ProbeHappened(n=2), source="probe"))
        uow.emit(huge)
        uow.commit()
    assert _count(db, db.tables.outbox) == 0 and _count(db, db.tables.claims) == 0, "nothing of the unit is kept"
