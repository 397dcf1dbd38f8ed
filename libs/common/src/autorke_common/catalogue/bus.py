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
