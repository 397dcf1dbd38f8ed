"""The one place where the inventory service is wired: settings, runtime, routes, consumers."""
from __future__ import annotations

from fastapi import FastAPI

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings

from autorke_inventory.adapters.orm import metadata


class InventorySettings(ServiceSettings):
    service_name: str = "inventory"
    port: int = 8101


def create_app(settings: InventorySettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or InventorySettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_inventory:migrations", configure_process)
    return create_service_app(runtime)
