"""VCalico's HTTP API: the network team's ticket system, as the netcfg service sees it.

Ticket API (what netcfg calls):
- ``POST /api/v1/tickets`` with a :class:`~.tickets.TicketRequest` body → 202 and the
  ticket (``id``, ``status: submitted``). An ``Idempotency-Key`` header makes a resubmission
  answer 200 with the same ticket; the same key with another body answers 409.
  In ``down`` mode it answers 503 with ``Retry-After``.
- ``GET /api/v1/tickets/{id}`` → the ticket: ``status`` (``submitted``/``answered``),
  ``result`` (``approved``/``rejected``/``failed``), ``callback`` and ``deliveries``.
- ``GET /api/v1/tickets`` → every ticket.

Control API (what tests and demos call):
- ``GET|PUT /control`` → ``{"mode", "delay_s", "webhook_url"}``; a PUT changes any of them.
  Modes: ``normal``, ``reject``, ``fail``, ``duplicate``, ``silent``, ``down``. The mode
  is captured when a ticket is submitted. The shared secret is never readable here.
- ``GET /healthz``.

Answers arrive as signed callbacks (see :mod:`.signing`) after ``delay_s`` seconds.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .callbacks import CallbackSender
from .tickets import IdempotencyConflict, Mode, Ticket, TicketBook, TicketRequest


class VCalicoSettings(BaseSettings):
    """Read from ``AUTORKE_LAB_VCALICO_*``; the secret never appears on a command line."""

    model_config = SettingsConfigDict(env_prefix="AUTORKE_LAB_VCALICO_", extra="ignore")

    secret: SecretStr
    webhook_url: str | None = None
    delay_s: float = 1.0
    mode: Mode = Mode.NORMAL
    retries: int = 3
    backoff_s: float = 0.5


class Control(BaseModel):
    mode: Mode | None = None
    delay_s: float | None = Field(default=None, ge=0)
    webhook_url: str | None = None


def create_app(settings: VCalicoSettings) -> FastAPI:
    book = TicketBook()
    state = {"mode": settings.mode, "delay_s": settings.delay_s, "webhook_url": settings.webhook_url}
    sender = CallbackSender(
        book,
        settings.secret.get_secret_value(),
        retries=settings.retries,
        backoff_s=settings.backoff_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        await sender.close()

    app = FastAPI(title="VCalico (lab)", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/api/v1/tickets", status_code=202, response_model=Ticket)
    async def submit(
        request: TicketRequest,
        response: Response,
        idempotency_key: str | None = Header(default=None),
    ) -> Ticket:
        if state["mode"] is Mode.DOWN:
            raise HTTPException(503, "VCalico is down for maintenance", {"Retry-After": "5"})
        try:
            ticket, created = book.submit(request, state["mode"], idempotency_key)
        except IdempotencyConflict:
            raise HTTPException(409, "Idempotency-Key already used for another ticket") from None
        if created:
            sender.schedule(ticket, state["webhook_url"], state["delay_s"])
        else:
            response.status_code = 200
        return ticket

    @app.get("/api/v1/tickets", response_model=list[Ticket])
    async def list_tickets() -> list[Ticket]:
        return book.all()

    @app.get("/api/v1/tickets/{ticket_id}", response_model=Ticket)
    async def get_ticket(ticket_id: str) -> Ticket:
        ticket = book.get(ticket_id)
        if ticket is None:
            raise HTTPException(404, f"ticket {ticket_id} not found")
        return ticket

    @app.get("/control")
    async def get_control() -> dict:
        return dict(state)

    @app.put("/control")
    async def put_control(control: Control) -> dict:
        state.update(control.model_dump(exclude_unset=True))
        return dict(state)

    return app
