"""The one place where the executor service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

from fastapi import FastAPI

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings

from autorke_executor.adapters.orm import metadata


class ExecutorSettings(ServiceSettings):
    service_name: str = "executor"
    port: int = 8103


def create_app(settings: ExecutorSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or ExecutorSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_executor:migrations", configure_process)
    return create_service_app(runtime)
