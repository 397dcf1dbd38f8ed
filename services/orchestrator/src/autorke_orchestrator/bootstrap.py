"""The one place where the orchestrator service is wired: settings, runtime, routes, consumers,
and the resume of open changes (at start-up, then periodically)."""
from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field

from autorke_common import signing
from autorke_common.app import create_service_app
from autorke_common.runtime import ServiceRuntime
from autorke_common.settings import ServiceSettings
from autorke_orchestrator.adapters import metrics
from autorke_orchestrator.adapters.orm import metadata
from autorke_orchestrator.adapters.unit_of_work import OrchestratorUnitOfWork
from autorke_orchestrator.entrypoints import api, consumer
from autorke_orchestrator.service_layer import dead_letters, deadlines, handlers


class OrchestratorSettings(ServiceSettings):
    service_name: str = "orchestrator"
    port: int = 8102
    resume_interval_s: float = 5.0
    order_deadline_grace_s: float = Field(
        default=600.0, ge=0, description="an order's deadline is its job's timeout plus this (queue, "
                                         "redeliveries); past it the step fails as timeout")
    deadline_interval_s: float = Field(default=15.0, gt=0, description="how often overdue orders are looked for")


def create_app(settings: OrchestratorSettings | None = None, configure_process: bool = True) -> FastAPI:
    settings = settings or OrchestratorSettings()
    signer = signing.signer_from(settings)  # no key: no start (its commands would all be refused)
    runtime = ServiceRuntime(settings, metadata, "autorke_orchestrator:migrations", configure_process)

    def unit_of_work() -> OrchestratorUnitOfWork:
        return OrchestratorUnitOfWork(runtime.db, signer)

    def resume_open() -> int:
        return handlers.resume_open(unit_of_work())

    def expire_overdue() -> int:
        return deadlines.expire_overdue(unit_of_work(), settings.order_deadline_grace_s)

    runtime.consume(consumer.executor_reports(unit_of_work))
    runtime.consume(consumer.inventory_events(unit_of_work))
    runtime.consume(consumer.netcfg_answers_of(unit_of_work))
    runtime.consume(consumer.ticket_answers_of(unit_of_work))
    runtime.consume(consumer.dead_letters_of(unit_of_work))
    metrics.register(runtime, dead_letters.CONSUMER)
    runtime.every(settings.resume_interval_s, resume_open, in_thread=True, exclusive="resume")
    runtime.every(settings.deadline_interval_s, expire_overdue, in_thread=True, exclusive="deadlines")
    app = create_service_app(runtime, [api.router])
    app.state.signer = signer
    return app
