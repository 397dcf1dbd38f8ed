"""Fixtures for the console's integration tests: a lab identity provider that knows this
console's redirect URI, a stand-in upstream that echoes what it received (so a test can
see exactly what the gateway forwarded), and a running console wired to them, to a real
NATS server and to a port where nothing listens (a service that is down)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from autorke_console.bootstrap import ConsoleSettings, create_app
from autorke_lab.idp import IdentityProvider, issue_token
from autorke_lab.machines.addresses import free_port
from fixtures.secret_keys import session_secret

from .servers import RunningServer, serve_app


def echo_app() -> FastAPI:
    """Answers every /api/v1 call with what arrived: method, path, query, headers, body;
    as an empty list (``items``, ``next_cursor``: the shape of every list) to a page that
    reads it as one."""
    app = FastAPI(title="echo")

    @app.api_route("/api/v1/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def echo(path: str, request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse({"method": request.method, "path": path, "query": request.url.query,
                             "headers": dict(request.headers), "body": body.decode(),
                             "items": [], "next_cursor": None},
                            status_code=201 if request.method == "POST" else 200,
                            headers={"x-echo": "1"})

    return app


class ConsoleIdP:
    def __init__(self, server: IdentityProvider) -> None:
        self.server = server
        self.issuer = server.issuer

    def token(self, user: str) -> str:
        return issue_token(user, self.server.state_dir)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def subject(self, user: str) -> str:
        """The stable identity the services record for ``user``: ``<issuer>#<sub>``."""
        return f"{self.issuer}#{user}"


@pytest.fixture(scope="module")
def console_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def console_idp(tmp_path_factory, console_port: int) -> Iterator[ConsoleIdP]:
    state = tmp_path_factory.mktemp("console-idp") / "idp"
    server = IdentityProvider(state, log_path=state.parent / "idp.log",
                              console_redirect_uris=[f"http://127.0.0.1:{console_port}/auth/callback"])
    server.start()
    try:
        yield ConsoleIdP(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def echo_upstream() -> Iterator[RunningServer]:
    with serve_app(echo_app()) as running:
        yield running


def console_settings(data, nats_url: str, idp: ConsoleIdP, port: int, *, inventory_url: str,
                     upstream_url: str) -> ConsoleSettings:
    """The console on ``port`` (the one the lab IdP's client redirects to), signing in at
    ``idp``; inventory at ``inventory_url``, orchestrator and executor at ``upstream_url``,
    netcfg nowhere. Served over plain HTTP, so with the development opt-out of the Secure
    cookie (an HTTP client never sends a Secure cookie back over plain HTTP)."""
    return ConsoleSettings(
        nats_url=nats_url, database_url=f"sqlite:///{data / 'console.db'}", db_schema="console",
        data_dir=data, oidc_issuer=idp.issuer, oidc_client_secret="lab-console-secret",
        trace_exporter="none", session_secret=session_secret("console-tests"), port=port,
        console_url=f"http://127.0.0.1:{port}", session_https_only=False,
        inventory_url=inventory_url, orchestrator_url=upstream_url,
        executor_url=upstream_url, netcfg_url=f"http://127.0.0.1:{free_port()}",
        upstream_timeout_s=5.0)


@pytest.fixture(scope="module")
def console(tmp_path_factory, nats_server, console_idp: ConsoleIdP, console_port: int,
            echo_upstream: RunningServer) -> Iterator[RunningServer]:
    settings = console_settings(tmp_path_factory.mktemp("console"), nats_server.url, console_idp, console_port,
                                inventory_url=echo_upstream.url, upstream_url=echo_upstream.url)
    with serve_app(create_app(settings, configure_process=False), port=console_port) as running:
        yield running
