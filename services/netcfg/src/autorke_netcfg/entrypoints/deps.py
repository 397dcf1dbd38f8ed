"""The route dependency that hands a request netcfg's ports (set on the app by
``bootstrap``)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from autorke_netcfg.service_layer.ports import Ports


def _ports(request: Request) -> Ports:
    return request.app.state.netcfg


NetcfgPorts = Annotated[Ports, Depends(_ports)]
