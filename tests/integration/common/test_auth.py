"""Bearer tokens from the lab identity provider are verified against its JWKS by the
shared app factory; roles decide what passes; the caller is its issuer and subject, never
a name the IdP lets it change; a key the IdP removed stops verifying tokens."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from autorke_common.app import create_service_app
from autorke_common.auth import Approver, Viewer
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings
from autorke_lab.idp import IdentityProvider, issue_token
from fixtures.waiting import wait


def probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(p: Viewer) -> dict:
        return {"subject": p.subject, "roles": sorted(p.roles), "name": p.name}

    @router.post("/approve")
    async def approve(p: Approver) -> dict:
        return {"approved_by": p.subject}

    return router


@pytest.fixture
def client(identity, nats_url, database):
    url, schema = database
    settings = ServiceSettings(service_name="authprobe", nats_url=nats_url, database_url=url,
                               db_schema=schema, oidc_issuer=identity.issuer, trace_exporter="none")
    app = create_service_app(ServiceRuntime(settings, MetaData(), None, configure_process=False),
                             [probe_router()])
    with TestClient(app) as c:
        yield c


def test_valid_token_carries_the_users_roles(client, identity, auth_headers):
    r = client.get("/whoami", headers=auth_headers("operator"))
    assert r.status_code == 200
    assert r.json() == {"subject": f"{identity.issuer}#operator", "roles": ["operator", "viewer"],
                        "name": "Otto Operator"}


def test_missing_or_forged_token_is_401_problem(client, auth_headers):
    r = client.get("/whoami")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthenticated")
    token = auth_headers("admin")["Authorization"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/whoami", headers={"Authorization": forged}).status_code == 401


def test_role_decides(client, identity, auth_headers):
    assert client.post("/approve", headers=auth_headers("operator")).status_code == 403
    assert client.post("/approve", headers=auth_headers("approver")).json() == {
        "approved_by": identity.subject("approver")}
    assert client.post("/approve", headers=auth_headers("admin")).status_code == 200


def test_m2_the_caller_is_its_issuer_and_subject_not_its_display_name(client, identity):
    """A user renamed in the IdP is still the same caller; a user who takes another's
    name (or whose name is another's ``sub``) is not that user."""
    me = client.get("/whoami", headers=identity.headers("operator")).json()
    renamed = client.get("/whoami", headers=identity.headers(
        "operator", preferred_username="otto.renamed", name="Otto Renamed")).json()
    assert renamed["subject"] == me["subject"] == identity.subject("operator")
    assert renamed["name"] == "Otto Renamed"
    impostor = client.get("/whoami", headers=identity.headers(
        "operator2", preferred_username="operator", name="Otto Operator")).json()
    assert impostor["subject"] == identity.subject("operator2") != me["subject"]


def test_m2_a_token_named_system_cannot_act_as_the_system(client, identity):
    """``system`` is the engine's own actor (automatic approvals, steps): no token may be it,
    by subject or by name; and no caller's identity can ever equal it."""
    for claims in ({"sub": "system"}, {"sub": "SYSTEM"}, {"preferred_username": "system"},
                   {"name": "System"}, {"sub": "dev"}, {"preferred_username": " dev "}):
        r = client.post("/approve", headers=identity.headers("admin", **claims))
        assert r.status_code == 401, (claims, r.text)
        assert r.json()["type"].endswith("/unauthenticated")
        assert "reserves" in r.json()["detail"]
    approver = client.post("/approve", headers=identity.headers("admin")).json()["approved_by"]
    assert approver != "system" and approver.startswith(f"{identity.issuer}#")


def test_m2_a_subject_the_services_cannot_record_is_refused(client, identity):
    for claims in ({"sub": ""}, {"sub": "a\nb"}, {"sub": "x" * 200}, {"sub": 42}):
        r = client.get("/whoami", headers=identity.headers("admin", **claims))
        assert r.status_code == 401, (claims, r.text)


@pytest.fixture
def rotating_idp(tmp_path) -> Iterator[IdentityProvider]:
    """An IdP of this test's own: its key is rotated, which no other test may see."""
    server = IdentityProvider(tmp_path / "idp", log_path=tmp_path / "idp.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_m1_a_revoked_signing_key_stops_being_accepted(rotating_idp):
    settings = ServiceSettings(service_name="authprobe", oidc_issuer=rotating_idp.issuer, trace_exporter="none",
                               oidc_jwks_cache_s=1.0, oidc_jwks_refetch_cooldown_s=0.5)
    app = create_service_app(ServiceRuntime(settings, MetaData(), None, configure_process=False),
                             [probe_router()])
    client = TestClient(app)   # no lifespan: verifying a token needs only the IdP

    def status(token: str) -> int:
        return client.post("/approve", headers={"Authorization": f"Bearer {token}"}).status_code

    leaked = issue_token("admin", rotating_idp.state_dir)
    assert status(leaked) == 200
    rotating_idp.rotate_key()                       # the IdP drops the leaked key from its JWKS
    fresh = issue_token("admin", rotating_idp.state_dir)
    wait(lambda: status(fresh) == 200, 30, "a token signed with the new key accepted", interval=0.2)
    wait(lambda: status(leaked) == 401, 30, "a token signed with the removed key refused", interval=0.2)
    assert status(leaked) == 401 and status(fresh) == 200
