"""The REST kit every service's routes use, so that one service's API reads like another's:

* dependencies as ``Annotated`` aliases: :data:`RuntimeDep` (the service's
  :class:`~autorke_common.runtime.ServiceRuntime`) and :data:`DatabaseDep`; the caller's
  roles are :mod:`autorke_common.auth`'s ``Viewer``, ``Operator``, ``Approver``, ``Admin``;
* one collection shape for every list, :class:`Page` (``{"items", "next_cursor"}``);
* one keyset cursor, :class:`Cursor`: an opaque token of the last row's sort key and id
  (with the sort it belongs to), so the next page starts strictly after that row, rows
  sharing a sort key are neither skipped nor repeated, and a token this API did not give
  out is refused with 400 ``invalid-cursor`` (field ``cursor``).

The SQL half of the cursor (``WHERE (key, id) < (:key, :id)``) is
:func:`autorke_common.db.keyset`.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel

from autorke_common.errors import Problem
from autorke_common.outbox import Database
from autorke_common.runtime import ServiceRuntime

T = TypeVar("T")
R = TypeVar("R")


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _database(request: Request) -> Database:
    return request.app.state.runtime.db


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
DatabaseDep = Annotated[Database, Depends(_database)]


class Page(BaseModel, Generic[T]):
    """One page of a collection: ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None


def invalid_cursor(detail: str) -> Problem:
    return Problem("invalid-cursor", "Invalid cursor", 400, detail, field="cursor")


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after the row whose sort key is ``key`` and id ``id``,
    in the order named ``sort``."""

    sort: str
    key: Any
    id: str

    def encode(self) -> str:
        key = self.key.isoformat() if isinstance(self.key, datetime) else self.key
        raw = json.dumps({"s": self.sort, "k": key, "i": self.id, "t": isinstance(self.key, datetime)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, sort: str = "") -> Cursor | None:
        """The cursor in ``token`` (None for none); 400 unless this API gave it out for
        this ``sort``."""
        if not token:
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            key = datetime.fromisoformat(raw["k"]) if raw["t"] else raw["k"]
            cursor = cls(str(raw["s"]), key, str(raw["i"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise invalid_cursor("the cursor was not issued by this API") from None
        if cursor.sort != sort:
            raise invalid_cursor(f"the cursor belongs to another order ({cursor.sort or 'default'})")
        return cursor


def page_of(rows: Sequence[R], limit: int, key: Callable[[R], tuple[Any, str]], sort: str = "",
            view: Callable[[R], T] | None = None) -> Page:
    """A :class:`Page` from up to ``limit + 1`` rows read in order (the extra row only says
    that there is a next page). ``key`` gives a row's (sort key, id)."""
    shown = list(rows[:limit])
    after = None
    if len(rows) > limit and shown:
        k, ident = key(shown[-1])
        after = Cursor(sort, k, ident).encode()
    return Page(items=[view(r) for r in shown] if view else shown, next_cursor=after)


Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]
CursorParam = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
