"""Delivering a ticket's answer: wait the configured delay, then POST the signed callback.

Like a real webhook sender it retries a failed delivery (connection error or a non-2xx
answer) a few times with back-off, and records each attempt on the ticket so a test or a
human can see what was sent. In ``duplicate`` mode the same event (same ``event_id``,
freshly signed) is delivered twice. The secret never leaves this module's arguments.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx

from .signing import DELIVERY_HEADER, EVENT_HEADER, signed_headers
from .tickets import Mode, Ticket, TicketBook, decide

log = logging.getLogger(__name__)


class CallbackSender:
    def __init__(
        self,
        book: TicketBook,
        secret: str,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
    ) -> None:
        self._book = book
        self._secret = secret
        self._retries = retries
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._tasks: set[asyncio.Task] = set()

    def schedule(self, ticket: Ticket, webhook_url: str | None, delay_s: float) -> None:
        """Answer ``ticket`` in the background (nothing happens in silent mode)."""
        if ticket.mode is Mode.SILENT:
            return
        task = asyncio.create_task(self._answer(ticket, webhook_url, delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, ticket: Ticket, webhook_url: str | None, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        callback = decide(ticket)
        self._book.answered(ticket.id, callback)
        if not webhook_url:
            log.warning("no webhook configured; ticket %s answered without a callback", ticket.id)
            return
        body = callback.model_dump_json().encode()
        copies = 2 if ticket.mode is Mode.DUPLICATE else 1
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            for _ in range(copies):
                await self._deliver(client, ticket.id, callback.event_id, webhook_url, body)

    async def _deliver(
        self, client: httpx.AsyncClient, ticket_id: str, event_id: str, url: str, body: bytes
    ) -> None:
        for attempt in range(1, self._retries + 2):
            delivery_id = str(uuid.uuid4())
            headers = {
                "Content-Type": "application/json",
                DELIVERY_HEADER: delivery_id,
                EVENT_HEADER: event_id,
                **signed_headers(self._secret, body),
            }
            record = {"delivery_id": delivery_id, "attempt": attempt, "sent_at": time.time()}
            try:
                response = await client.post(url, content=body, headers=headers)
                record["status_code"] = response.status_code
            except httpx.HTTPError as exc:
                record["error"] = type(exc).__name__
            self._book.record_delivery(ticket_id, record)
            if 200 <= record.get("status_code", 0) < 300:
                log.info("callback for ticket %s delivered (attempt %d)", ticket_id, attempt)
                return
            log.warning("callback for ticket %s not accepted: %s", ticket_id, record)
            if attempt <= self._retries:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
