"""A service named by several replica addresses: requests go round-robin, and a replica
that refuses the connection is skipped (the request never reached it)."""
from __future__ import annotations

import asyncio

import httpx
import pytest

from autorke_common.replicas import AsyncFailover, Failover, primary, replica_urls

SETTING = "http://127.0.0.1:8102, http://127.0.0.1:8122/,http://127.0.0.1:8142"


def recorder(down: set[int]):
    seen: list[tuple[int, str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        port = request.url.port
        if port in down:
            raise httpx.ConnectError("refused", request=request)
        seen.append((port, request.url.path, request.headers["host"]))
        return httpx.Response(200, json={"port": port})
    return seen, handle


def test_the_setting_names_the_replicas_and_the_first_is_the_primary():
    assert replica_urls(SETTING) == ["http://127.0.0.1:8102", "http://127.0.0.1:8122", "http://127.0.0.1:8142"]
    assert primary("http://a:1/") == "http://a:1"
    with pytest.raises(ValueError):
        replica_urls(" , ")


def test_requests_go_round_robin_with_the_path_and_host_of_the_replica():
    seen, handle = recorder(down=set())
    client = httpx.Client(transport=Failover([SETTING], httpx.MockTransport(handle)))
    ports = [client.get(f"{primary(SETTING)}/api/v1/changes").json()["port"] for _ in range(6)]
    assert ports == [8102, 8122, 8142, 8102, 8122, 8142]
    assert all(path == "/api/v1/changes" and host == f"127.0.0.1:{port}" for port, path, host in seen)


def test_a_replica_that_refuses_the_connection_is_skipped():
    _, handle = recorder(down={8122})
    client = httpx.Client(transport=Failover([SETTING], httpx.MockTransport(handle)))
    ports = [client.post(f"{primary(SETTING)}/api/v1/changes", json={}).json()["port"] for _ in range(4)]
    assert 8122 not in ports and set(ports) == {8102, 8142}


def test_all_replicas_down_is_the_connect_error_and_other_hosts_pass_untouched():
    _, handle = recorder(down={8102, 8122, 8142})
    client = httpx.Client(transport=Failover([SETTING], httpx.MockTransport(handle)))
    with pytest.raises(httpx.ConnectError):
        client.get(primary(SETTING))
    _, handle = recorder(down=set())
    client = httpx.Client(transport=Failover([SETTING], httpx.MockTransport(handle)))
    assert [client.get("http://127.0.0.1:9999/x").json()["port"] for _ in range(3)] == [9999] * 3


def test_the_async_transport_fails_over_too():
    _, handle = recorder(down={8102})

    async def run() -> list[int]:
        async with httpx.AsyncClient(transport=AsyncFailover([SETTING], httpx.MockTransport(handle))) as c:
            return [(await c.get(primary(SETTING))).json()["port"] for _ in range(4)]
    ports = asyncio.run(run())
    assert 8102 not in ports and set(ports) == {8122, 8142}
