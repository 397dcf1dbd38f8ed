"""Run one service's app with uvicorn: what every service's ``python -m autorke_<svc>``
does, and what ``autorke up`` starts as a child process per service."""
from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from autorke_common.settings import ServiceSettings


def serve(create_app: Callable[[ServiceSettings], FastAPI], settings: ServiceSettings) -> None:
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                lifespan="on", timeout_graceful_shutdown=10)
