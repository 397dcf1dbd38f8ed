"""Bearer tokens from the lab identity provider are verified against its JWKS by the
shared app factory; roles decide what passes."""
from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import MetaData

from autorke_common.app import create_service_app
from autorke_common.auth import Approver, Viewer
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings


@pytest.fixture
def client(identity, nats_url, database):
    url, schema = database
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(p: Viewer) -> dict:
        return {"subject": p.subject, "roles": sorted(p.roles)}

    @router.post("/approve")
    async def approve(p: Approver) -> dict:
        return {"approved_by": p.subject}

    settings = ServiceSettings(service_name="authprobe", nats_url=nats_url, database_url=url,
                               db_schema=schema, oidc_issuer=identity.issuer, trace_exporter="none")
    app = create_service_app(ServiceRuntime(settings, MetaData(), None, configure_process=False), [router])
    with TestClient(app) as c:
        yield c


def test_valid_token_carries_the_users_roles(client, auth_headers):
    r = client.get("/whoami", headers=auth_headers("operator"))
    assert r.status_code == 200
    assert r.json() == {"subject": "operator", "roles": ["operator", "viewer"]}


def test_missing_or_forged_token_is_401_problem(client, auth_headers):
    r = client.get("/whoami")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthenticated")
    token = auth_headers("admin")["Authorization"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert client.get("/whoami", headers={"Authorization": forged}).status_code == 401


def test_role_decides(client, auth_headers):
    assert client.post("/approve", headers=auth_headers("operator")).status_code == 403
    assert client.post("/approve", headers=auth_headers("approver")).json() == {"approved_by": "approver"}
    assert client.post("/approve", headers=auth_headers("admin")).status_code == 200
