"""The one place where the console service is wired: settings, runtime (database, bus,
the shared event feed, the pooled client to the services), sign-in, pages and the API
entry. Nothing is created at import time."""
from __future__ import annotations

import logging
import secrets

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
from autorke_console.adapters.upstream import Upstreams

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
    oidc_redirect_uri: str | None = Field(
        default=None, description="default: <this console's URL>/auth/callback")
    session_secret: SecretStr | None = Field(
        default=None, description="signs the session cookie; default: AUTORKE_SECRET_KEY, else random")
    session_max_age_s: int = 8 * 3600
    session_https_only: bool = False


class ConsoleRuntime(ServiceRuntime):
    """The service runtime plus the console's own long-lived parts."""

    def __init__(self, settings: ConsoleSettings, configure_process: bool) -> None:
        super().__init__(settings, metadata, "autorke_console:migrations", configure_process)
        self.event_feed = EventFeed()
        self.upstreams = Upstreams({
            "inventory": settings.inventory_url, "orchestrator": settings.orchestrator_url,
            "executor": settings.executor_url, "netcfg": settings.netcfg_url,
        }, timeout_s=settings.upstream_timeout_s)

    async def start(self) -> None:
        await super().start()
        await self.event_feed.start(self.bus.nc)

    async def stop(self) -> None:
        await self.event_feed.stop()
        await self.upstreams.close()
        await super().stop()


def _session_secret(settings: ConsoleSettings) -> str:
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    if settings.secret_key is not None:
        return "console-session:" + settings.secret_key.get_secret_value()
    log.warning("no AUTORKE_SESSION_SECRET or AUTORKE_SECRET_KEY: sessions end when the console restarts")
    return secrets.token_urlsafe(32)


def create_app(settings: ConsoleSettings | None = None, configure_process: bool = True) -> FastAPI:
    from autorke_console.entrypoints import events, gateway, signin
    from autorke_console.entrypoints.deps import answer_refusals
    from autorke_console.entrypoints.pages import changes, clusters, feed, machines, network

    settings = settings or ConsoleSettings()
    runtime = ConsoleRuntime(settings, configure_process)
    routers = [signin.router, machines.router, clusters.router, changes.router, network.router,
               feed.router, events.router, gateway.router]
    app = create_service_app(runtime, routers, title="AutoRKE console")
    answer_refusals(app)
    app.state.settings = settings
    app.state.upstreams = runtime.upstreams
    app.state.event_feed = runtime.event_feed
    app.state.oidc = (oidc_client(settings.oidc_issuer, settings.oidc_client_id,
                                  settings.oidc_client_secret.get_secret_value()
                                  if settings.oidc_client_secret else None)
                      if settings.oidc_issuer else None)
    app.add_middleware(SessionMiddleware, secret_key=_session_secret(settings),
                       session_cookie="autorke_session", max_age=settings.session_max_age_s,
                       same_site="lax", https_only=settings.session_https_only)
    app.mount("/static", StaticFiles(packages=[("autorke_console", "static")]), name="static")
    return app
