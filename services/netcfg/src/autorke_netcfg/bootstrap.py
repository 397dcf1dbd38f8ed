"""The one place where the netcfg service is wired: settings, runtime, ports, the handler
of each command, routes, consumers and periodic jobs. Nothing is created at import time."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import SecretStr

from autorke_common import signing
from autorke_common.app import create_service_app
from autorke_common.catalogue.netcfg import (
    ApplyPool,
    ApplyTicket,
    ApproveTicket,
    CheckPool,
    ConfirmTicket,
    PlanTicket,
    RevertTicket,
    SubmitTicket,
)
from autorke_common.change_requests import ChangeRequests
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings
from autorke_netcfg.adapters.kube import KubeClusters
from autorke_netcfg.adapters.orm import metadata
from autorke_netcfg.adapters.pool_locks import PoolLocks
from autorke_netcfg.adapters.unit_of_work import NetcfgUnitOfWork
from autorke_netcfg.adapters.vcalico import VCalicoClient
from autorke_netcfg.entrypoints import api, tickets_api
from autorke_netcfg.entrypoints.consumer import CommandHandler, consumers
from autorke_netcfg.service_layer import apply, pools, revert, submission, tickets
from autorke_netcfg.service_layer.drift import detect_drift
from autorke_netcfg.service_layer.ports import Ports
from autorke_netcfg.service_layer.tickets import expire_callbacks

#: the handler of each command netcfg takes from the bus
HANDLERS: dict[type, CommandHandler] = {
    PlanTicket: tickets.plan,
    ApproveTicket: tickets.approve,
    ConfirmTicket: tickets.confirm,
    SubmitTicket: submission.submit,
    ApplyTicket: apply.apply,
    RevertTicket: revert.revert,
    CheckPool: pools.check,
    ApplyPool: pools.apply,
}


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
    # how long a pool write waits for another writer's lock on the same cluster
    pool_lock_timeout_s: float = 30.0


def orchestrator_commands(settings: NetcfgSettings) -> signing.Verifier:
    """Only the orchestrator may sign the ``ippool.*`` commands and the ticket commands it
    sends (plan, approve, confirm, revert: C2); no trusted signers: no start."""
    return signing.verifier_from(settings, scope=lambda signer, _env: signer == "orchestrator")


def build_ports(runtime: ServiceRuntime, settings: NetcfgSettings) -> Ports:
    def callback_secret() -> str | None:
        return settings.vcalico_secret.get_secret_value() if settings.vcalico_secret else None

    assert runtime.secrets is not None   # built at start (needs_secrets): a missing key fails there
    vcalico = VCalicoClient(settings.vcalico_url, settings.vcalico_submit_attempts,
                            settings.vcalico_submit_backoff_s, settings.vcalico_submit_max_backoff_s,
                            settings.vcalico_request_timeout_s) if settings.vcalico_url else None
    return Ports(uow=lambda: NetcfgUnitOfWork(runtime.db), kube=KubeClusters(runtime.secrets.open),
                 vcalico=vcalico, callback_secret=callback_secret,
                 signature_tolerance_s=settings.vcalico_signature_tolerance_s,
                 callback_timeout_s=settings.vcalico_callback_timeout_s,
                 pool_write_grace_s=settings.pool_write_grace_s,
                 changes=ChangeRequests(settings.orchestrator_url) if settings.orchestrator_url else None,
                 pool_lock=PoolLocks(runtime.db.engine, settings.pool_lock_timeout_s,
                                     settings.db_schema or settings.service_name).hold)


def create_app(settings: NetcfgSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or NetcfgSettings()
    runtime = ServiceRuntime(settings, metadata, "autorke_netcfg:migrations", configure_process,
                             needs_secrets=True)
    ports = build_ports(runtime, settings)
    # a submission retries VCalico with back-off before it answers; apply writes a whole fabric,
    # and a revert takes it back (both under the cluster's pool lock)
    submit_window = settings.vcalico_submit_attempts * (settings.vcalico_request_timeout_s
                                                        + settings.vcalico_submit_max_backoff_s) + 30.0
    ack_wait = {SubmitTicket: submit_window, ApplyTicket: 120.0, ApplyPool: settings.pool_lock_timeout_s + 90.0,
                RevertTicket: settings.pool_lock_timeout_s + 120.0}
    for spec in consumers(ports, HANDLERS, ack_wait, orchestrator_commands(settings)):
        runtime.consume(spec)

    def expire() -> None:
        expire_callbacks(ports)

    def drift() -> None:
        detect_drift(ports)

    runtime.every(settings.callback_timeout_check_interval_s, expire, in_thread=True, exclusive="ticket-expiry")
    runtime.every(settings.drift_check_interval_s, drift, in_thread=True, exclusive="drift")
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
