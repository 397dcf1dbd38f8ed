"""What routes and consumers need, built once by ``bootstrap`` and kept on ``app.state``;
routes reach it through the ``Services`` dependency."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from autorke_common.errors import Problem
from autorke_common.outbox import Database
from autorke_common.secrets import SecretBox

from autorke_inventory.service_layer.commands import CommandHandler
from autorke_inventory.service_layer.jobs import ExecutorResults
from autorke_inventory.service_layer.sync import SyncRunner


@dataclass
class InventoryServices:
    db: Database
    box: SecretBox
    syncer: SyncRunner | None
    commands: CommandHandler
    results: ExecutorResults


def _services(request: Request) -> InventoryServices:
    return request.app.state.inventory


Services = Annotated[InventoryServices, Depends(_services)]


def etag(version: int) -> str:
    return f'W/"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Updates need ``If-Match`` with the ETag the client read (lost-update guard)."""
    if not if_match:
        raise Problem("precondition-required", "If-Match required", 428,
                      "send If-Match with the ETag of the version you read")
    if if_match.strip() not in (etag(version), f'"{version}"', "*"):
        raise Problem("precondition-failed", "Stale version", 412,
                      f"the resource changed since you read it (now {etag(version)})")
