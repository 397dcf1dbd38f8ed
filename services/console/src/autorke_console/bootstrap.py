"""The one place where the console service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

from fastapi import FastAPI

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings

from autorke_console.adapters.orm import metadata


class ConsoleSettings(ServiceSettings):
    service_name: str = "console"
    port: int = 8080


def create_app(settings: ConsoleSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or ConsoleSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_console:migrations", configure_process)
    return create_service_app(runtime)
