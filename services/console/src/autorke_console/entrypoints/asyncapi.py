"""``GET /api/v1/asyncapi.json``: the bus's contract (every event and command, with who may
publish and subscribe each), generated from the catalogue. Public like ``openapi.json``:
it describes messages, it carries none; reading the bus itself needs a NATS user."""
from __future__ import annotations

from functools import cache

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from autorke_common.catalogue.asyncapi import document

router = APIRouter()


@cache
def _document() -> dict:
    return document()


@router.get("/api/v1/asyncapi.json", tags=["console"],
            summary="Every event and command on the bus (AsyncAPI 3.0), for ops dashboards")
def asyncapi() -> JSONResponse:
    return JSONResponse(_document())
