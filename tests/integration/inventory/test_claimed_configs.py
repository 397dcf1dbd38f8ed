"""Claim-check through the inventory (issue 17): the sealed rkestate an rke run of a large
cluster wrote (twice NATS's ``max_payload``) reaches the inventory as a claim the executor
keeps; the inventory fetches it over HTTP with its own signed request, checks its digest,
versions it, and announces the version with a claim of its own, which the executor (and
only a trusted reader) fetches back. Over the real bus and database; the executor's side is
its claims route over real HTTP."""
from __future__ import annotations

import json
import secrets
import uuid

from fastapi import FastAPI
from sqlalchemy import MetaData

from autorke_common import claims
from autorke_common.app import install_problem_handlers
from autorke_common.catalogue import inventory as msg
from autorke_common.db import make_engine
from autorke_common.outbox import Database, add_outbox_tables
from autorke_common.secrets import SecretBox
from autorke_common.signing import Verifier, parse_signers
from fixtures.raw_http import ServedApp
from fixtures.signing import signer, trusted

from .conftest import SECRET_KEY, LabCmdb
from .test_membership import command

BIG = 2 * 1024 * 1024


def _executor_holder(tmp_path) -> tuple[Database, ServedApp]:
    metadata = MetaData()
    tables = add_outbox_tables(metadata)
    engine = make_engine(f"sqlite:///{tmp_path / 'executor-claims.db'}")
    metadata.create_all(engine)
    db = Database(engine, tables, name="executor")
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(claims.router(db, "executor", Verifier(parse_signers(trusted("inventory")), 60)))
    return db, ServedApp(app)


def test_a_large_rkestate_goes_by_claim_from_the_executor_through_the_inventory(make_inventory, cmdb: LabCmdb,
                                                                              events, tmp_path):
    box = SecretBox(SECRET_KEY)
    state = json.dumps({"currentState": {"padding": secrets.token_hex(BIG // 2)}})
    db, served = _executor_holder(tmp_path)
    with served:
        with db.unit_of_work() as uow:  # what the executor kept of its rke run's result
            ref = uow.claim_large(box.seal(state))
            uow.commit()
        assert ref.startswith("claim:executor:sha256:")
        inv = make_inventory(cmdb.url, executor_url=served.url)
        inv.post("/api/v1/clusters", json={"name": "claims-a", "provider": "rke"})
        bus, portal = inv.client.app.state.runtime.bus, inv.client.portal
        change = f"chg-{uuid.uuid4().hex[:8]}"
        portal.call(bus.publish, command(msg.StoreConfig(change_id=change, cluster="claims-a",
                                                         kind="cluster.rkestate", content_sealed=ref)))
        events.wait_for(lambda _: events.of(msg.ConfigVersioned.TYPE, cluster="claims-a"), timeout=60)
    [versioned] = events.of(msg.ConfigVersioned.TYPE, cluster="claims-a")
    announced = versioned["data"]["content_sealed"]
    holder, digest = claims.parse(announced)
    assert holder == "inventory" and len(json.dumps(versioned)) < 4096, "the event names the version by claim"

    path = claims.PATH.format(digest=digest)
    reader = claims.ClaimClient("executor", signer("executor"), {})
    answer = inv.client.get(path, headers={"Authorization": reader._authorization("inventory", digest)})
    assert answer.status_code == 200, answer.text
    assert claims.digest_of(answer.json()["sealed"]) == digest
    assert box.open(answer.json()["sealed"]) == state, "the version is the rkestate the executor kept"
    intruder = claims.ClaimClient("executor", signer("intruder"), {})
    refused = inv.client.get(path, headers={"Authorization": intruder._authorization("inventory", digest)})
    assert refused.status_code == 403 and refused.json()["type"].endswith("/claim-forbidden")
