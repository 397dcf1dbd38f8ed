"""The lost-update guard of updates: a resource's ETag is its version, and an update
must name (``If-Match``) the version the caller read."""
from __future__ import annotations

from autorke_common.errors import Problem


def etag(version: int) -> str:
    return f'W/"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """428 without ``If-Match``, 412 when it names another version than ``version``
    (HTTP's own answers: they stay problems, not domain refusals)."""
    if not if_match:
        raise Problem("precondition-required", "If-Match required", 428,
                      "send If-Match with the ETag of the version you read")
    if if_match.strip() not in (etag(version), f'"{version}"', "*"):
        raise Problem("precondition-failed", "Stale version", 412,
                      f"the resource changed since you read it (now {etag(version)})")
