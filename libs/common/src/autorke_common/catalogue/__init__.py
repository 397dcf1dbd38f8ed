"""The typed, versioned catalogue of every event and command on the bus.

A message is a pydantic model with three class constants: ``KIND`` (``event`` or
``command``), ``TYPE`` (``<service>.<entity>.<verb>`` for events, ``<service>.<verb>`` for
commands) and ``VERSION``. Its subject follows from them:
``autorke.events.<service>.<entity>.<verb>`` or ``autorke.cmd.<service>.<verb>``.
Defining the class registers it; the catalogue is fixed once the modules are imported and
nothing ever needs resetting. A new ``VERSION`` of a type is a new class; old consumers
keep parsing the versions they know.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

EVENTS_PREFIX = "autorke.events"
COMMANDS_PREFIX = "autorke.cmd"

_REGISTRY: dict[tuple[str, int], type[Message]] = {}


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    KIND: ClassVar[Literal["event", "command"]]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" in cls.__dict__:
            key = (cls.TYPE, cls.VERSION)
            if key in _REGISTRY and _REGISTRY[key] is not cls:
                raise TypeError(f"message type {key} defined twice")
            _REGISTRY[key] = cls

    @classmethod
    def message_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def message_subject(cls) -> str:
        prefix = EVENTS_PREFIX if cls.KIND == "event" else COMMANDS_PREFIX
        return f"{prefix}.{cls.TYPE}"


class Event(Message):
    KIND: ClassVar[Literal["event", "command"]] = "event"


class Command(Message):
    """A command: its sender signs it (:mod:`autorke_common.signing`) and its receiver
    refuses it unsigned. The three fields below are the signature, set by the signer."""

    KIND: ClassVar[Literal["event", "command"]] = "command"
    issued_at: datetime | None = Field(default=None, description="when it was signed (UTC)")
    signed_by: str | None = Field(default=None, description="the signing key's id (16 hex digits)")
    signature: str | None = Field(default=None, description="Ed25519, base64url, over the command's "
                                  "canonical bytes (autorke_common.signing.canonical)")


class UnknownMessage(Message):
    """What :func:`parse` returns for a type this process does not know (kept, not lost)."""

    model_config = ConfigDict(extra="allow")
    KIND: ClassVar[Literal["event", "command"]] = "event"


def parse(type_: str, version: int, data: dict[str, Any]) -> Message:
    cls = _REGISTRY.get((type_, version))
    if cls is None:
        return UnknownMessage.model_validate(data)
    return cls.model_validate(data)


def known_types() -> list[tuple[str, int, str]]:
    """(type, version, subject) of every registered message, for docs and tests."""
    return sorted((t, v, c.message_subject()) for (t, v), c in _REGISTRY.items())


from autorke_common.catalogue import bus as bus
