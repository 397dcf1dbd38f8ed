"""The one place where the inventory service is wired: settings, runtime, CMDB source,
sync schedule, routes, consumers. Nothing is built at import time."""
from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from pydantic import Field, SecretStr

from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings, secret_box

from autorke_inventory.adapters.cmdb_http import HttpCmdbSource
from autorke_inventory.adapters.netbox import NetBoxSource
from autorke_inventory.adapters.orm import metadata
from autorke_inventory.entrypoints import api_clusters, api_configs, api_machines, consumer
from autorke_inventory.entrypoints.deps import InventoryServices
from autorke_inventory.service_layer.commands import CommandHandler
from autorke_inventory.service_layer import node_status
from autorke_inventory.service_layer.jobs import ExecutorResults
from autorke_inventory.service_layer.sync import SyncRunner

log = logging.getLogger(__name__)


class InventorySettings(ServiceSettings):
    service_name: str = "inventory"
    port: int = 8101
    cmdb_kind: str = Field(default="http", description="http (generic JSON CMDB) or netbox")
    cmdb_url: str | None = Field(default=None, description="base URL of the CMDB; empty: no sync")
    cmdb_token: SecretStr | None = None
    cmdb_page_size: int = 1000
    sync_interval_s: float = Field(default=300.0, description="incremental sync period; 0 = off")
    node_status_interval_s: float = Field(
        default=30.0, ge=0, description="period of the members' node status refresh; 0 = off")


def source_factory(settings: InventorySettings):  # noqa: ANN201
    token = settings.cmdb_token.get_secret_value() if settings.cmdb_token else None
    if settings.cmdb_kind == "netbox":
        return lambda: NetBoxSource(settings.cmdb_url, token, settings.cmdb_page_size)
    if settings.cmdb_kind != "http":
        raise ValueError(f"AUTORKE_CMDB_KIND must be http or netbox, not {settings.cmdb_kind!r}")
    return lambda: HttpCmdbSource(settings.cmdb_url, token, settings.cmdb_page_size)


def create_app(settings: InventorySettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or InventorySettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_inventory:migrations", configure_process)
    box = secret_box(settings)
    syncer = SyncRunner(runtime.db, source_factory(settings)) if settings.cmdb_url else None
    services = InventoryServices(db=runtime.db, box=box, syncer=syncer,
                                 commands=CommandHandler(runtime.db, box),
                                 results=ExecutorResults(runtime.db))
    consumer.subscribe(runtime, services)
    if syncer is not None and settings.sync_interval_s > 0:
        async def periodic_sync() -> None:
            await asyncio.to_thread(syncer.run, "incremental", "schedule")

        runtime.every(settings.sync_interval_s, periodic_sync)
    if settings.node_status_interval_s > 0:
        interval = settings.node_status_interval_s

        async def periodic_node_status() -> None:
            await asyncio.to_thread(node_status.request_periodic, runtime.db, interval)

        runtime.every(interval, periodic_node_status)
    app = create_service_app(runtime, [api_machines.router, api_clusters.router,
                                       api_configs.router])
    app.state.inventory = services
    return app
