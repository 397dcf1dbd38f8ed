"""The client a service uses to create a change as its caller: the caller's token goes
along, and the orchestrator's refusal comes back as the same problem."""
from __future__ import annotations

import httpx
import pytest

from autorke_common.change_requests import ChangeRequests, change_accepted
from autorke_common.errors import Problem


def _client(handler) -> ChangeRequests:
    return ChangeRequests("http://orchestrator.test/", transport=httpx.MockTransport(handler))


def test_the_change_is_created_as_the_caller_and_its_view_answered():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        seen["url"] = str(request.url)
        seen["body"] = request.read()
        return httpx.Response(201, json={"id": "ch-1", "status": "awaiting_approval"})

    change = _client(handler).create(type="ippool.create", cluster="c1", params={"name": "p"},
                                     authorization="Bearer tok")
    assert change["id"] == "ch-1"
    assert seen["auth"] == "Bearer tok"
    assert seen["url"] == "http://orchestrator.test/api/v1/changes"
    assert b'"type":"ippool.create"' in seen["body"].replace(b" ", b"")
    body, headers = change_accepted(change)
    assert body is change and headers == {"Location": "/api/v1/changes/ch-1"}


def test_a_refusal_keeps_its_slug_status_and_field():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"type": "https://autorke.dev/problems/invalid-params", "title": "Invalid",
                                         "status": 422, "detail": "bad", "field": "params.cidr"})

    with pytest.raises(Problem) as refused:
        _client(handler).create(type="ippool.create", cluster="c1", params={})
    assert (refused.value.slug, refused.value.status) == ("invalid-params", 422)
    assert refused.value.extensions["field"] == "params.cidr"


def test_an_unreachable_orchestrator_is_503_and_a_server_error_502():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(Problem) as unreachable:
        _client(down).create(type="config.update", cluster="c1", params={})
    assert (unreachable.value.slug, unreachable.value.status) == ("orchestrator-unavailable", 503)

    with pytest.raises(Problem) as broken:
        _client(lambda r: httpx.Response(500, text="boom")).create(type="config.update", cluster="c1", params={})
    assert broken.value.status == 502
