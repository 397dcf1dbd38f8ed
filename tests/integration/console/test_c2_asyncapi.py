"""C2: the console serves the bus's AsyncAPI document, without a token (like openapi.json),
the same document the catalogue generates."""
from __future__ import annotations

import httpx

from autorke_common.catalogue.asyncapi import document


def test_c2_the_console_serves_the_asyncapi_document(console):
    r = httpx.get(f"{console.url}/api/v1/asyncapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == document()
