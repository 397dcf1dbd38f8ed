"""One family of errors for every service.

* :class:`Problem` is what an API caller sees: RFC 9457 problem+json with a stable
  ``type`` (``https://autorke.dev/problems/<slug>``); the slug is the contract.
* :class:`DomainError` (:class:`Invalid`, :class:`Conflict`, :class:`Forbidden`,
  :class:`Missing`, :class:`Broken`) is what ``domain/`` code raises: a stable slug and a detail, no HTTP.
  :func:`problem_of` maps it to a :class:`Problem` in one place; the app factory and the
  bus both use it, so a route and a consumer refuse the same way.
* :class:`PermanentError` and :class:`TemporaryError` are what a message handler raises:
  the bus terminates (dead-letters) the first and redelivers the second after ``delay``.
  A :class:`Problem` below 500 and a :class:`DomainError` other than :class:`Broken` are
  permanent too: the same message will be refused the same way every time.
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


class DomainError(Exception):
    """A rule of the domain refused: ``slug`` is the stable contract, ``detail`` says why
    for this case, ``extensions`` (such as ``field``) travel to the caller."""

    def __init__(self, slug: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.slug, self.detail, self.extensions = slug, detail, extensions


class Invalid(DomainError):
    """The request itself is wrong (a bad field, an unknown value): 422 at the edge."""


class Conflict(DomainError):
    """The request is well formed but the current state refuses it: 409 at the edge."""


class Forbidden(DomainError):
    """The caller may not do this (a rule of the domain, such as four eyes): 403 at the edge."""


class Missing(DomainError):
    """Something the request names does not exist: 404 at the edge."""


class Broken(DomainError):
    """An invariant of our own code broke (a bug, never the caller's fault): 500."""


_STATUS: dict[type[DomainError], int] = {Invalid: 422, Conflict: 409, Forbidden: 403, Missing: 404, Broken: 500}


def problem_of(error: DomainError) -> Problem:
    """The one mapping of domain refusals to HTTP."""
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 409)
    return Problem(error.slug, error.slug.replace("-", " ").capitalize(), status, error.detail, **error.extensions)


def is_permanent(error: BaseException) -> bool:
    """Whether redelivering the message that raised ``error`` can only fail the same way."""
    if isinstance(error, PermanentError):
        return True
    if isinstance(error, DomainError):
        return not isinstance(error, Broken)
    return isinstance(error, Problem) and error.status < 500


class PermanentError(Exception):
    """Retrying cannot help: the bus terminates the message and dead-letters it."""


class TemporaryError(Exception):
    """Retrying later may help: the bus naks the message with this delay (seconds)."""

    def __init__(self, message: str, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = delay


class StoreUnavailable(TemporaryError):
    """The database could not be reached, or dropped the connection (a restart, a
    fail-over): what the unit of work held was not written. Raised by a service's unit of
    work adapter in place of the driver's error, so a handler can wait it out."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        super().__init__(message, delay)
