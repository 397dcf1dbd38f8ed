"""The one place where the netcfg service is wired: settings, runtime, ports, routes,
consumers and periodic jobs. Nothing is created at import time."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings, secret_box
from fastapi import FastAPI
from pydantic import SecretStr

from autorke_netcfg.adapters.kube import KubeClusters
from autorke_netcfg.adapters.orm import metadata
from autorke_netcfg.adapters.vcalico import VCalicoClient
from autorke_netcfg.entrypoints import api, tickets_api
from autorke_netcfg.entrypoints.consumer import consumers
from autorke_netcfg.service_layer.drift import detect_drift
from autorke_netcfg.service_layer.ports import Ports
from autorke_netcfg.service_layer.tickets import expire_callbacks


class NetcfgSettings(ServiceSettings):
    service_name: str = "netcfg"
    port: int = 8104
    # VCalico, the network team's ticket system
    vcalico_url: str | None = "http://127.0.0.1:8202"
    vcalico_secret: SecretStr | None = None            # shared HMAC secret of the callbacks
    vcalico_submit_attempts: int = 4
    vcalico_submit_backoff_s: float = 1.0
    vcalico_submit_max_backoff_s: float = 10.0
    vcalico_request_timeout_s: float = 10.0
    vcalico_callback_timeout_s: float = 3600.0         # a submitted ticket fails after this
    vcalico_signature_tolerance_s: float = 300.0       # accepted clock skew / replay window
    callback_timeout_check_interval_s: float = 15.0
    drift_check_interval_s: float = 60.0
    # a pool write of netcfg's still marked in flight after this is one whose writer died
    # (longer than a ticket's apply can take, redeliveries included)
    pool_write_grace_s: float = 600.0


def build_ports(runtime: ServiceRuntime, settings: NetcfgSettings) -> Ports:
    def open_sealed(sealed: str) -> str:
        return secret_box(settings).open(sealed)

    def callback_secret() -> str | None:
        return settings.vcalico_secret.get_secret_value() if settings.vcalico_secret else None

    vcalico = VCalicoClient(settings.vcalico_url, settings.vcalico_submit_attempts,
                            settings.vcalico_submit_backoff_s, settings.vcalico_submit_max_backoff_s,
                            settings.vcalico_request_timeout_s) if settings.vcalico_url else None
    return Ports(db=runtime.db, kube=KubeClusters(open_sealed), vcalico=vcalico,
                 callback_secret=callback_secret,
                 signature_tolerance_s=settings.vcalico_signature_tolerance_s,
                 callback_timeout_s=settings.vcalico_callback_timeout_s,
                 pool_write_grace_s=settings.pool_write_grace_s)


def create_app(settings: NetcfgSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or NetcfgSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_netcfg:migrations", configure_process)
    ports = build_ports(runtime, settings)
    attempts = settings.vcalico_submit_attempts
    submit_window = attempts * (settings.vcalico_request_timeout_s
                                + settings.vcalico_submit_max_backoff_s) + 30.0
    for spec in consumers(ports, submit_window):
        runtime.consume(spec)

    async def expire() -> None:
        await asyncio.to_thread(expire_callbacks, ports)

    async def drift() -> None:
        await asyncio.to_thread(detect_drift, ports)

    runtime.every(settings.callback_timeout_check_interval_s, expire)
    runtime.every(settings.drift_check_interval_s, drift)
    app = create_service_app(runtime, [api.router, tickets_api.router])
    app.state.netcfg = ports
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            yield
        ports.kube.close()   # the clusters' HTTP pools, once the runtime has stopped

    app.router.lifespan_context = lifespan
    return app
