"""The one place where the inventory service is wired: settings, runtime, CMDB source,
the command handlers, sync schedule, routes, consumers. Nothing is built at import time."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from fastapi import FastAPI
from pydantic import Field, SecretStr

from autorke_common import claims, signing
from autorke_common.app import create_service_app
from autorke_common.catalogue import inventory as msg
from autorke_common.change_requests import ChangeRequests
from autorke_common.claims import inline_only
from autorke_common.runtime import ServiceRuntime
from autorke_common.secrets import SecretBox
from autorke_common.settings import ServiceSettings
from autorke_common.signing import Verifier
from autorke_inventory.adapters.cmdb_http import HttpCmdbSource
from autorke_inventory.adapters.netbox import NetBoxSource
from autorke_inventory.adapters.orm import metadata
from autorke_inventory.adapters.unit_of_work import unit_of_work_factory
from autorke_inventory.entrypoints import api_clusters, api_configs, api_machines, api_profiles, consumer
from autorke_inventory.entrypoints.deps import Inlet, InventoryServices
from autorke_inventory.service_layer import handlers, jobs, messagebus, node_status
from autorke_inventory.service_layer.sync import SyncRunner
from autorke_inventory.service_layer.unit_of_work import UnitOfWorkFactory


class InventorySettings(ServiceSettings):
    service_name: str = "inventory"
    port: int = 8101
    # a large config version's event names it by claim; the claim lives as long as the version
    claim_retention_s: float | None = None
    cmdb_kind: str = Field(default="http", description="http (generic JSON CMDB) or netbox")
    cmdb_url: str | None = Field(default=None, description="base URL of the CMDB; empty: no sync")
    cmdb_token: SecretStr | None = None
    cmdb_page_size: int = 1000
    cmdb_timeout_s: float = 30.0  # each CMDB/NetBox request's read deadline (M9)
    sync_interval_s: float = Field(default=300.0, description="incremental sync period; 0 = off")
    node_status_interval_s: float = Field(
        default=30.0, ge=0, description="period of the members' node status refresh; 0 = off")


def source_factory(settings: InventorySettings):
    token = settings.cmdb_token.get_secret_value() if settings.cmdb_token else None
    if settings.cmdb_kind == "netbox":
        return lambda: NetBoxSource(settings.cmdb_url, token, settings.cmdb_page_size, settings.cmdb_timeout_s)
    if settings.cmdb_kind != "http":
        raise ValueError(f"AUTORKE_CMDB_KIND must be http or netbox, not {settings.cmdb_kind!r}")
    return lambda: HttpCmdbSource(settings.cmdb_url, token, settings.cmdb_page_size, settings.cmdb_timeout_s)


def orchestrator_commands(settings: InventorySettings) -> Verifier:
    """Only the orchestrator may sign the inventory's commands (C2); no trusted signers: no start."""
    return signing.verifier_from(settings, scope=lambda signer, _env: signer == "orchestrator")


def command_handlers(box: SecretBox, fetch: Callable[[str], str] = inline_only) -> messagebus.Handlers:
    """The handler of each of the orchestrator's commands, with the ports it needs
    (``fetch``: where a claim reference is resolved)."""
    return {
        msg.AssignMembership: handlers.assign_membership,
        msg.ReleaseMembership: handlers.release_membership,
        msg.UpdateNode: handlers.update_node,
        msg.TransitionMachine: handlers.transition_machine,
        msg.StoreConfig: partial(handlers.store_config, box=box, fetch=fetch),
        msg.PreviewConfig: partial(handlers.preview_config, box=box),
        msg.AdoptConfig: partial(handlers.adopt_config, box=box),
    }


def services_for(uow: UnitOfWorkFactory, box: SecretBox, syncer: SyncRunner | None,
                 changes: ChangeRequests | None = None, *, verifier: Verifier,
                 fetch: Callable[[str], str] = inline_only) -> InventoryServices:
    dispatch = command_handlers(box, fetch)
    return InventoryServices(
        uow=uow, box=box, syncer=syncer, changes=changes,
        commands=Inlet(lambda env: messagebus.handle_command(env, uow, dispatch, verifier)),
        results=Inlet(lambda env: jobs.take_result(env, uow())))


def create_app(settings: InventorySettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or InventorySettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_inventory:migrations", configure_process,
                             needs_secrets=True)
    uow = unit_of_work_factory(runtime.db, signing.signer_from(settings))  # signs its executor jobs
    # one sync at a time across the replicas: a section on the database
    syncer = SyncRunner(uow, source_factory(settings), runtime.exclusive.hold) if settings.cmdb_url else None
    changes = ChangeRequests(settings.orchestrator_url) if settings.orchestrator_url else None
    claim_client = claims.client_from(settings)  # signed with its key: the executor's large rkestates
    services = services_for(uow, runtime.secrets, syncer, changes, verifier=orchestrator_commands(settings),
                            fetch=claim_client.resolve if claim_client else inline_only)
    consumer.subscribe(runtime, services)
    if syncer is not None and settings.sync_interval_s > 0:
        def periodic_sync() -> None:
            syncer.run("incremental", "schedule", wait_s=0)

        runtime.every(settings.sync_interval_s, periodic_sync, in_thread=True)
    if settings.node_status_interval_s > 0:
        interval = settings.node_status_interval_s

        def refresh_node_status() -> None:
            node_status.request_periodic(uow(), interval)

        runtime.every(interval, refresh_node_status, in_thread=True, exclusive="node-status")
    app = create_service_app(runtime, [api_machines.router, api_clusters.router,
                                       api_configs.router, api_profiles.router])
    app.state.inventory = services
    return app
