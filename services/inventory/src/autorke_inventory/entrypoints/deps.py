"""What routes and consumers need, built once by ``bootstrap`` and kept on ``app.state``;
routes reach it through the ``Services`` dependency."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from autorke_common.change_requests import change_accepted
from autorke_common.envelope import Envelope
from autorke_common.secrets import SecretBox
from autorke_inventory.service_layer.etags import etag
from autorke_inventory.service_layer.proposals import ChangeRequests
from autorke_inventory.service_layer.sync import SyncRunner
from autorke_inventory.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Inlet:
    """One kind of bus message, handled as its consumer handles it: ``handle(envelope)``
    (tests hand it envelopes without the bus)."""

    handle: Callable[[Envelope], object]


@dataclass(frozen=True)
class InventoryServices:
    uow: UnitOfWorkFactory  # a new unit of work per call
    box: SecretBox
    syncer: SyncRunner | None
    changes: ChangeRequests | None  # the orchestrator, for the config changes the API asks for
    commands: Inlet  # the orchestrator's commands
    results: Inlet  # the executor's results of the jobs the inventory asked for


def _services(request: Request) -> InventoryServices:
    return request.app.state.inventory


Services = Annotated[InventoryServices, Depends(_services)]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def accepted(change: dict) -> JSONResponse:
    """202 with the change a request became, and where to follow it."""
    body, headers = change_accepted(change)
    return JSONResponse(body, status_code=202, headers=headers)
