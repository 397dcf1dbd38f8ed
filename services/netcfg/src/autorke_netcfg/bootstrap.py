"""The one place where the netcfg service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

from fastapi import FastAPI

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings

from autorke_netcfg.adapters.orm import metadata


class NetcfgSettings(ServiceSettings):
    service_name: str = "netcfg"
    port: int = 8104


def create_app(settings: NetcfgSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or NetcfgSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_netcfg:migrations", configure_process)
    return create_service_app(runtime)
