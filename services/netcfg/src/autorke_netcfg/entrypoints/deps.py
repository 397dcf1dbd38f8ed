"""The route dependencies: netcfg's ports (set on the app by ``bootstrap``) and a
request's raw body (VCalico's signature covers its exact bytes), of at most 64 KiB: the
webhook is open to anyone until its signature is checked, so a larger body is refused with
413 before it is read (a ``Content-Length`` over the limit) or as soon as it goes past it."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from autorke_common.app import WEBHOOK_BODY_LIMIT
from autorke_common.body_limit import read_body
from autorke_netcfg.service_layer.ports import Ports


def _ports(request: Request) -> Ports:
    return request.app.state.netcfg


async def _raw_body(request: Request) -> bytes:
    return await read_body(request, WEBHOOK_BODY_LIMIT)


NetcfgPorts = Annotated[Ports, Depends(_ports)]
RawBody = Annotated[bytes, Depends(_raw_body)]
