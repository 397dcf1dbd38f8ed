"""Events the bus itself emits."""
from __future__ import annotations

from autorke_common.catalogue import Event


class MessageDeadLettered(Event):
    """A message was given up on: its handler failed permanently or too often."""

    TYPE = "bus.message.dead_lettered"
    consumer: str
    stream: str
    subject: str
    message_id: str | None
    deliveries: int
    error: str
    payload: str


class OutboxRowParked(Event):
    """A row of a service's outbox can never be published (larger than the server's
    ``max_payload``, a subject its user may not publish to, a subject NATS refuses): it is
    set aside so the rows after it go on, and kept for an operator (``outbox.parked_at``).
    The event says which and why; it does not carry the payload."""

    TYPE = "bus.outbox.parked"
    service: str
    seq: int
    message_id: str
    subject: str
    size: int
    error: str
