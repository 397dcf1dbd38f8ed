"""The one place where the console service is wired: settings, runtime (database with the
server-side sessions, bus, the shared event feed, the pooled client to the services),
sign-in, pages and the API entry. Nothing is created at import time."""
from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import Field, SecretStr
from starlette.middleware.sessions import SessionMiddleware

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings
from autorke_console.adapters.event_feed import EventFeed
from autorke_console.adapters.oidc import oidc_client
from autorke_console.adapters.orm import metadata
from autorke_console.adapters.unit_of_work import ConsoleUnitOfWork
from autorke_console.adapters.upstream import Upstreams
from autorke_console.entrypoints.event_log_consumer import event_log_consumer
from autorke_console.service_layer import event_log
from autorke_console.service_layer.sessions import purge_ended_sessions

log = logging.getLogger(__name__)


class ConsoleSettings(ServiceSettings):
    service_name: str = "console"
    port: int = 8080
    inventory_url: str = "http://127.0.0.1:8101"
    orchestrator_url: str = "http://127.0.0.1:8102"
    executor_url: str = "http://127.0.0.1:8103"
    netcfg_url: str = "http://127.0.0.1:8104"
    upstream_timeout_s: float = 30.0
    oidc_client_id: str = "autorke-console"
    oidc_client_secret: SecretStr | None = None
    console_url: str | None = Field(
        default=None, description="this console's public URL, as browsers reach it (https://...)")
    oidc_redirect_uri: str | None = Field(
        default=None, description="where the identity provider sends the code; default: <console_url>/auth/callback")
    session_secret: SecretStr | None = Field(
        default=None, description="signs the session cookie (the console's own secret: it never holds "
                                  "AUTORKE_SECRET_KEY); default: random, so sessions end at a restart")
    session_secret_file: Path | None = Field(
        default=None, description="a file holding AUTORKE_SESSION_SECRET (preferred to the variable)")
    session_max_age_s: int = 8 * 3600
    session_https_only: bool = Field(
        default=True, description="the session cookie is Secure (sent over HTTPS only); "
                                  "false only for a console served over plain HTTP in development")
    events_streams_per_subject: int = Field(
        default=20, ge=1, description="live event streams one person (or token subject) may hold open at once")
    event_log_retention_days: float = Field(
        default=30.0, gt=0, description="days the console keeps each event for the Events page's history and "
                                        "the audit view")

    def redirect_uri(self) -> str:
        """The one address the identity provider may send a sign-in back to. Fixed by the
        settings: built from a request's Host header, a loosely matching provider could
        send the code to any host the caller names."""
        if self.oidc_redirect_uri:
            return self.oidc_redirect_uri
        if self.console_url:
            return f"{self.console_url.rstrip('/')}/auth/callback"
        raise ValueError("set AUTORKE_CONSOLE_URL (the console's public URL) or AUTORKE_OIDC_REDIRECT_URI: "
                         "sign-in needs a fixed redirect URI")


class ConsoleRuntime(ServiceRuntime):
    """The service runtime plus the console's own long-lived parts."""

    def __init__(self, settings: ConsoleSettings, configure_process: bool) -> None:
        super().__init__(settings, metadata, "autorke_console:migrations", configure_process)
        self.event_feed = EventFeed()
        self.upstreams = Upstreams({
            "inventory": settings.inventory_url, "orchestrator": settings.orchestrator_url,
            "executor": settings.executor_url, "netcfg": settings.netcfg_url,
        }, timeout_s=settings.upstream_timeout_s)
        self.every(600.0, self.purge_ended_sessions, in_thread=True)
        self.every(600.0, self.purge_event_log, in_thread=True)
        self.consume(event_log_consumer(self.uow))

    def uow(self) -> ConsoleUnitOfWork:
        return ConsoleUnitOfWork(self.db)

    def purge_ended_sessions(self) -> None:
        purge_ended_sessions(self.uow())

    def purge_event_log(self) -> None:
        event_log.purge(self.uow(), self.settings.event_log_retention_days)

    async def start(self) -> None:
        await super().start()
        await self.event_feed.start(self.bus.nc)

    async def stop(self) -> None:
        await self.event_feed.stop()
        await self.upstreams.close()
        await super().stop()


def _session_secret(settings: ConsoleSettings) -> str:
    """The console's own secret: never derived from the platform's sealing key, which the
    console (facing browsers) does not hold."""
    if settings.session_secret_file is not None:
        secret = settings.session_secret_file.read_text().strip()
    elif settings.session_secret is not None:
        secret = settings.session_secret.get_secret_value()
    else:
        log.warning("no AUTORKE_SESSION_SECRET(_FILE): sessions end when the console restarts")
        return secrets.token_urlsafe(32)
    if len(secret) < 32:
        raise ValueError("AUTORKE_SESSION_SECRET must be at least 32 characters (e.g. python -c "
                         "'import secrets; print(secrets.token_urlsafe(32))')")
    return secret


def create_app(settings: ConsoleSettings | None = None, configure_process: bool = True) -> FastAPI:
    from autorke_console.entrypoints import asyncapi, events, gateway, signin
    from autorke_console.entrypoints.deps import answer_refusals
    from autorke_console.entrypoints.headers import FramingRefused
    from autorke_console.entrypoints.pages import (
        approvals,
        changes,
        clusters,
        dashboard,
        feed,
        machines,
        network,
        profiles,
    )
    from autorke_console.entrypoints.session import SignedInSessions

    settings = settings or ConsoleSettings()
    if settings.oidc_issuer:
        settings.redirect_uri()  # refuse to start without a fixed one
    if not settings.session_https_only:
        log.warning("AUTORKE_SESSION_HTTPS_ONLY=false: the session cookie is sent over plain HTTP "
                    "(development only)")
    runtime = ConsoleRuntime(settings, configure_process)
    routers = [signin.router, dashboard.router, approvals.router, machines.router, clusters.router, profiles.router,
               changes.router, network.router, feed.router, events.router, asyncapi.router, gateway.router]
    app = create_service_app(runtime, routers, title="AutoRKE console", docs_openapi_url="/api/v1/openapi.json")
    answer_refusals(app)
    app.state.settings = settings
    app.state.upstreams = runtime.upstreams
    app.state.event_feed = runtime.event_feed
    app.state.uow_factory = runtime.uow
    app.state.oidc = (oidc_client(settings.oidc_issuer, settings.oidc_client_id,
                                  settings.oidc_client_secret.get_secret_value()
                                  if settings.oidc_client_secret else None)
                      if settings.oidc_issuer else None)
    app.add_middleware(FramingRefused)
    app.add_middleware(SignedInSessions, uow_factory=runtime.uow)  # inside SessionMiddleware: it reads the cookie
    app.add_middleware(SessionMiddleware, secret_key=_session_secret(settings),
                       session_cookie="autorke_session", max_age=settings.session_max_age_s,
                       same_site="lax", https_only=settings.session_https_only)
    app.mount("/static", StaticFiles(packages=[("autorke_console", "static")]), name="static")
    return app
