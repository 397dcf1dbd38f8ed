"""The single API entry against real HTTP services: tokens checked at the entry and
passed on, traceparent passed on, bodies and queries streamed through unchanged, a down
service answered with a clear problem, and one merged OpenAPI document."""
from __future__ import annotations

import httpx

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_no_token_is_refused_at_the_entry(console, echo_upstream):
    r = httpx.get(f"{console.url}/api/v1/machines")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == "https://autorke.dev/problems/unauthenticated"


def test_a_forged_token_is_refused_at_the_entry(console):
    r = httpx.get(f"{console.url}/api/v1/machines", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    assert r.json()["type"].endswith("/unauthenticated")


def test_bearer_and_traceparent_reach_the_owning_service(console, console_idp):
    token = console_idp.token("viewer")
    r = httpx.get(f"{console.url}/api/v1/machines", params={"cluster": "lab", "q": "m00"},
                  headers={"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT})
    assert r.status_code == 200
    seen = r.json()
    assert seen["path"] == "machines" and seen["query"] == "cluster=lab&q=m00"
    assert seen["headers"]["authorization"] == f"Bearer {token}"
    # the trace continues: same trace id, the console's span (or the caller's) as parent
    assert seen["headers"]["traceparent"].split("-")[1] == TRACEPARENT.split("-")[1]
    assert "cookie" not in seen["headers"]
    assert r.headers["x-echo"] == "1"


def test_a_post_body_and_custom_method_path_are_streamed_through(console, console_idp):
    body = b'{"type": "node.add", "targets": ["m001"], "dry_run": true}' * 200
    r = httpx.post(f"{console.url}/api/v1/changes/c-1:retry", content=body,
                   headers={**console_idp.headers("operator"), "content-type": "application/json"})
    assert r.status_code == 201
    seen = r.json()
    assert seen["method"] == "POST" and seen["path"] == "changes/c-1:retry"
    assert seen["body"].encode() == body


def test_a_service_that_is_down_gives_a_clear_503(console, console_idp):
    r = httpx.get(f"{console.url}/api/v1/clusters/lab/ippools", headers=console_idp.headers("viewer"))
    assert r.status_code == 503
    problem = r.json()
    assert problem["type"] == "https://autorke.dev/problems/upstream-unavailable"
    assert problem["service"] == "netcfg"


def test_an_unknown_collection_is_a_404_problem(console, console_idp):
    r = httpx.get(f"{console.url}/api/v1/nothing-here", headers=console_idp.headers("viewer"))
    assert r.status_code == 404
    assert r.json()["type"].endswith("/not-found")


def test_the_vcalico_webhook_needs_no_bearer_token(console):
    """Its HMAC signature is netcfg's to verify; the entry must not block it. (netcfg is
    down in this setup, so reaching it is proved by the 503 naming netcfg, not a 401.)"""
    r = httpx.post(f"{console.url}/api/v1/webhooks/vcalico", content=b"{}",
                   headers={"x-vcalico-signature": "sha256=00"})
    assert r.status_code == 503 and r.json()["service"] == "netcfg"


def test_one_merged_openapi_document(console):
    doc = httpx.get(f"{console.url}/api/v1/openapi.json").json()
    assert "/api/v1/{path}" in doc["paths"]          # the echo stand-in's own path
    assert "/api/v1/events" in doc["paths"]          # the console's own
    assert "netcfg" in doc["x-autorke-unavailable"]  # down: named, not silently missing
    tags = {t["name"] for t in doc["tags"]}
    assert {"console", "inventory", "orchestrator", "executor"} <= tags


def test_me_answers_who_the_token_belongs_to(console, console_idp):
    me = httpx.get(f"{console.url}/api/v1/me", headers=console_idp.headers("approver")).json()
    assert me["subject"] == "approver" and "approver" in me["roles"] and me["via"] == "token"
