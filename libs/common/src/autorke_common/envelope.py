"""The envelope every event and command travels in (DESIGN.md, Messaging).

``id`` doubles as the JetStream ``Nats-Msg-Id`` so the server drops a duplicate publish,
and consumers record it to give a redelivered message no second effect."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from autorke_common.catalogue import Message


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(when: datetime) -> datetime:
    """``when`` with its zone (SQLite hands timestamps back without it: they are UTC)."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class Envelope(BaseModel):
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    source: str
    subject: str
    time: datetime = Field(default_factory=utcnow)
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    schema_version: int = 1
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(
        cls,
        message: Message,
        *,
        source: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        actor: str | None = None,
        id: str | None = None,
    ) -> Envelope:
        """Wrap a catalogue message. Pass ``id`` to make the envelope deterministic
        (a command derived from a step gets the same id every time it is re-sent)."""
        extra = {"id": id} if id else {}
        return cls(
            type=message.message_type(),
            source=source,
            subject=message.message_subject(),
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
            schema_version=message.VERSION,
            data=message.model_dump(mode="json"),
            **extra,
        )

    def caused(self, message: Message, *, source: str, id: str | None = None) -> Envelope:
        """A follow-up message: same correlation and actor, caused by this one."""
        return Envelope.of(
            message,
            source=source,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            actor=self.actor,
            id=id,
        )

    def parsed(self) -> Message:
        """The typed message this envelope carries (per the catalogue)."""
        from autorke_common.catalogue import parse

        return parse(self.type, self.schema_version, self.data)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)
