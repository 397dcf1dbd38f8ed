"""The lab control API for machines (served under ``/lab`` by the lab runtime).

::

    GET    /lab/machines                            [MACHINE...] (as in ``lab status --json``)
    GET    /lab/machines/{name}                     MACHINE
    GET    /lab/machines/{name}/faults              {"faults": {kind: params}}
    PUT    /lab/machines/{name}/faults/{kind}       body {"seconds"|"exit_code"|"message": …}
    DELETE /lab/machines/{name}/faults/{kind}       clear one fault
    DELETE /lab/machines/{name}/faults              clear all faults
    GET    /lab/machines/{name}/commands            {"machine", "commands": [{"time", "client", "command"}]}
    DELETE /lab/machines/{name}/commands            empty the command log
    GET    /lab/machines/{name}/units               {"units": [{"name", "pid", "active"}]}

Fault errors (unknown kind, not possible in plain mode) answer 400 with a message.
"""
from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException

from .faults import FaultError, clear_all, clear_fault, set_fault
from .fleet import Fleet
from .machine import Machine


def machines_router(fleet: Fleet) -> APIRouter:
    router = APIRouter(prefix="/lab/machines", tags=["lab"])
    lock = threading.Lock()

    def machine(name: str) -> Machine:
        try:
            return fleet.get(name)
        except KeyError as e:
            raise HTTPException(404, str(e.args[0])) from None

    @router.get("")
    def list_machines() -> list[dict]:
        return [m.to_status() for m in fleet.machines]

    @router.get("/{name}")
    def get_machine(name: str) -> dict:
        return machine(name).to_status()

    @router.get("/{name}/faults")
    def get_faults(name: str) -> dict:
        return {"faults": machine(name).faults()}

    @router.put("/{name}/faults/{kind}")
    def put_fault(name: str, kind: str, params: Annotated[dict | None, Body()] = None) -> dict:
        m = machine(name)
        with lock:
            try:
                return {"faults": set_fault(m, kind, params)}
            except FaultError as e:
                raise HTTPException(400, str(e)) from None

    @router.delete("/{name}/faults/{kind}")
    def delete_fault(name: str, kind: str) -> dict:
        m = machine(name)
        with lock:
            try:
                return {"faults": clear_fault(m, kind)}
            except FaultError as e:
                raise HTTPException(400, str(e)) from None

    @router.delete("/{name}/faults")
    def delete_faults(name: str) -> dict:
        m = machine(name)
        with lock:
            clear_all(m)
        return {"faults": m.faults()}

    @router.get("/{name}/commands")
    def get_commands(name: str) -> dict:
        return {"machine": name, "commands": [r.to_json() for r in machine(name).command_log()]}

    @router.delete("/{name}/commands")
    def delete_commands(name: str) -> dict:
        machine(name).clear_command_log()
        return {"machine": name, "commands": []}

    @router.get("/{name}/units")
    def get_units(name: str) -> dict:
        return {"units": machine(name).units()}

    return router
