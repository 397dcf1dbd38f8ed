"""One family of errors for every service.

* :class:`Problem` is what an API caller sees: RFC 9457 problem+json with a stable
  ``type`` (``https://autorke.dev/problems/<slug>``); the slug is the contract.
* :class:`PermanentError` and :class:`TemporaryError` are what a message handler raises:
  the bus terminates (dead-letters) the first and redelivers the second after ``delay``.
"""
from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://autorke.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error meant for the API caller, mapped to problem+json by the app factory."""

    def __init__(
        self,
        slug: str,
        title: str,
        status: int = 400,
        detail: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.slug = slug
        self.title = title
        self.status = status
        self.detail = detail
        self.extensions = extensions

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extensions)
        return body


def not_found(what: str, key: str) -> Problem:
    return Problem("not-found", f"{what} not found", 404, f"{what} {key!r} does not exist")


def conflict(slug: str, detail: str, **ext: Any) -> Problem:
    return Problem(slug, slug.replace("-", " ").capitalize(), 409, detail, **ext)


class PermanentError(Exception):
    """Retrying cannot help: the bus terminates the message and dead-letters it."""


class TemporaryError(Exception):
    """Retrying later may help: the bus naks the message with this delay (seconds)."""

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay
