"""The one place where the orchestrator service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

from fastapi import FastAPI

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings

from autorke_orchestrator.adapters.orm import metadata


class OrchestratorSettings(ServiceSettings):
    service_name: str = "orchestrator"
    port: int = 8102


def create_app(settings: OrchestratorSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or OrchestratorSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_orchestrator:migrations", configure_process)
    return create_service_app(runtime)
