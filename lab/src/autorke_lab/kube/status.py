"""Kubernetes ``Status`` failures, the one error shape the real API server answers with.

Every refusal of the lab API (401, 404, 409, 422, 429, ...) is a :class:`KubeError`; the
app turns it into ``{"kind": "Status", "apiVersion": "v1", "status": "Failure", ...}`` so
that the official client raises an ``ApiException`` with the same ``status``/``reason``
a real cluster gives.
"""
from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """A request the API refuses, carrying the fields of a ``metav1.Status``."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def success(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Success", "code": code}
    if details:
        body["details"] = details
    return body


def _details(plural: str, group: str, name: str) -> dict[str, Any]:
    details = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def _qualified(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found',
                     _details(plural, group, name))


def already_exists(plural: str, group: str, name: str) -> KubeError:
    return KubeError(409, "AlreadyExists",
                     f'{_qualified(plural, group)} "{name}" already exists',
                     _details(plural, group, name))


def conflict(plural: str, group: str, name: str) -> KubeError:
    return KubeError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try again",
        _details(plural, group, name))


def invalid(kind: str, group: str, name: str, field: str, message: str) -> KubeError:
    details = {"name": name, "kind": kind,
               "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]}
    if group:
        details["group"] = group
    return KubeError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {message}', details)


def bad_request(message: str) -> KubeError:
    return KubeError(400, "BadRequest", message)


def unauthorized() -> KubeError:
    return KubeError(401, "Unauthorized", "Unauthorized")


def method_not_allowed() -> KubeError:
    return KubeError(405, "MethodNotAllowed",
                     "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str, accepted: list[str]) -> KubeError:
    return KubeError(415, "UnsupportedMediaType",
                     f"the body of the request was in an unknown format - accepted media "
                     f"types include: {', '.join(accepted)}", {"kind": content_type})


def gone(message: str) -> KubeError:
    return KubeError(410, "Expired", message)


def too_many_requests(message: str, causes: list[dict[str, str]]) -> KubeError:
    return KubeError(429, "TooManyRequests", message, {"causes": causes})
