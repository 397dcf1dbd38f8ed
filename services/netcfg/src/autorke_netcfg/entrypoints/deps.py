"""The route dependencies: netcfg's ports (set on the app by ``bootstrap``) and a
request's raw body (VCalico's signature covers its exact bytes)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from autorke_netcfg.service_layer.ports import Ports


def _ports(request: Request) -> Ports:
    return request.app.state.netcfg


async def _raw_body(request: Request) -> bytes:
    return await request.body()


NetcfgPorts = Annotated[Ports, Depends(_ports)]
RawBody = Annotated[bytes, Depends(_raw_body)]
