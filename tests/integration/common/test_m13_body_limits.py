"""Every service refuses a request body over its limit (1 MiB; 16 MiB for a config import)
with 413 problem+json, before it reads the body: a ``Content-Length`` over the limit is
answered at once with the body never sent, and a chunked body is cut off as soon as it
passes the limit, its end never sent either. Each service's real app, under a real
uvicorn, spoken to over a raw socket."""
from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autorke_common.body_limit import MIB
from fixtures.raw_http import ServedApp, chunked, request
from fixtures.signing import service_settings

SECRET_KEY = secrets.token_urlsafe(32)


def _common(tmp_path: Path, name: str) -> dict[str, Any]:
    return {"data_dir": tmp_path / name, "database_url": f"sqlite:///{tmp_path / name}.db",
            "nats_url": "nats://127.0.0.1:1", "trace_exporter": "none", **service_settings(name)}


def inventory(tmp_path: Path):
    from autorke_inventory.bootstrap import InventorySettings, create_app
    return create_app(InventorySettings(**_common(tmp_path, "inventory"), secret_key=SECRET_KEY),
                      configure_process=False)


def orchestrator(tmp_path: Path):
    from autorke_orchestrator.bootstrap import OrchestratorSettings, create_app
    return create_app(OrchestratorSettings(**_common(tmp_path, "orchestrator")), configure_process=False)


def executor(tmp_path: Path):
    from autorke_executor.bootstrap import ExecutorSettings, create_app
    return create_app(ExecutorSettings(**_common(tmp_path, "executor"), secret_key=SECRET_KEY,
                                       ssh_key_path=tmp_path / "no-ssh-key"), configure_process=False)


def netcfg(tmp_path: Path):
    from autorke_netcfg.bootstrap import NetcfgSettings, create_app
    return create_app(NetcfgSettings(**_common(tmp_path, "netcfg"), secret_key=SECRET_KEY),
                      configure_process=False)


def console(tmp_path: Path):
    from autorke_console.bootstrap import ConsoleSettings, create_app
    return create_app(ConsoleSettings(**_common(tmp_path, "console")), configure_process=False)


# each service and a route of its own that takes a body (the executor has none: any path is refused alike)
SERVICES: dict[str, tuple[Callable[[Path], Any], str]] = {
    "inventory": (inventory, "/api/v1/machines:sync"),
    "orchestrator": (orchestrator, "/api/v1/changes"),
    "executor": (executor, "/api/v1/jobs"),
    "netcfg": (netcfg, "/api/v1/tickets"),
    "console": (console, "/api/v1/changes"),
}
JSON = {"Content-Type": "application/json"}


def assert_too_large(r, limit: int) -> None:
    assert r.status == 413, r.body
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "https://autorke.dev/problems/request-too-large"
    assert problem["field"] == "body" and problem["limit"] == limit


@pytest.mark.parametrize("service", list(SERVICES))
def test_m13_a_body_over_the_limit_is_refused_with_413_in_every_service(service, tmp_path):
    build, path = SERVICES[service]
    with ServedApp(build(tmp_path)) as served:
        # announced too large: answered with nothing of the body sent
        r = request(served.port, "POST", path, {**JSON, "Content-Length": str(2 * MIB)}, timeout=20)
        assert_too_large(r, MIB)
        # chunked: cut off once past the limit, though the body never ends
        piece = b" " * (64 * 1024)
        r = request(served.port, "POST", path, {**JSON, "Transfer-Encoding": "chunked"},
                    chunked([piece] * 16 + [b"{}"], last=False), timeout=20)
        assert_too_large(r, MIB)
        # within the limit, announced or chunked, the request goes on to the route (which wants a token)
        body = json.dumps({"padding": "x" * (MIB - 100)}).encode()
        r = request(served.port, "POST", path, {**JSON, "Content-Length": str(len(body))}, [body])
        assert r.status != 413 and r.status < 500, r.body
        r = request(served.port, "POST", path, {**JSON, "Transfer-Encoding": "chunked"}, chunked([b"{}"]))
        assert r.status != 413 and r.status < 500, r.body
        # a length that is no number is a bad request, not a crash
        r = request(served.port, "POST", path, {**JSON, "Content-Length": "12abc"}, timeout=20)
        assert r.status == 400, r.body


@pytest.mark.parametrize("service", ["inventory", "console"])
def test_m13_a_config_import_may_carry_more_than_the_default_but_not_without_bound(service, tmp_path):
    """An import carries a whole cluster.yml and cluster.rkestate: up to 16 MiB, at the
    inventory and at the console's gateway in front of it."""
    build, _ = SERVICES[service]
    path = "/api/v1/clusters/big:import"
    with ServedApp(build(tmp_path)) as served:
        body = json.dumps({"cluster_yml": "x" * (3 * MIB)}).encode()
        r = request(served.port, "POST", path, {**JSON, "Content-Length": str(len(body))}, [body])
        assert r.status != 413 and r.status < 500, r.body
        r = request(served.port, "POST", path, {**JSON, "Content-Length": str(17 * MIB)}, timeout=20)
        assert_too_large(r, 16 * MIB)
