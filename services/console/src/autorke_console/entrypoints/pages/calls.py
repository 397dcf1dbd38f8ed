"""The pages' calls to the public API, made as the signed-in user: one call, every page of
a list, and the items of a list answer. Every service answers a list as
``{"items": [...], "next_cursor": ...}`` (``autorke_common.rest.Page``), so that is the
only shape read here."""
from __future__ import annotations

from typing import Any

from fastapi import Request

from autorke_console.adapters.upstream import ApiResult
from autorke_console.entrypoints.session import session_user

#: Items asked for per page when a page shows a whole list: the largest page the REST kit
#: serves (``autorke_common.rest.Limit``), so a list is one call unless it is long.
WHOLE_LIST_PAGE = 500


async def api(request: Request, method: str, path: str, **kwargs: Any) -> ApiResult:
    """One call to the public API as the signed-in user."""
    user = session_user(request)
    return await request.app.state.upstreams.call(method, path, user["token"] if user else None, **kwargs)


async def api_all(request: Request, path: str, params: dict[str, Any] | None = None) -> ApiResult:
    """Every item of a list, following ``next_cursor`` page by page: the first page's
    result with all items and no ``next_cursor`` (its other fields kept), or the first
    call that failed."""
    params = {**(params or {}), "limit": WHOLE_LIST_PAGE}
    first = await api(request, "GET", path, params=params)
    if not first.ok:
        return first
    collected = list(first.data["items"])
    cursor, seen = first.data.get("next_cursor"), set()
    while cursor and cursor not in seen:  # a repeated cursor would loop for ever
        seen.add(cursor)
        page = await api(request, "GET", path, params={**params, "cursor": cursor})
        if not page.ok:
            return page
        collected.extend(page.data["items"])
        cursor = page.data.get("next_cursor")
    first.data = {**first.data, "items": collected, "next_cursor": None}
    return first


def items(result: ApiResult | None) -> list:
    """The items of a list answer; none when the call failed (the page shows why)."""
    return result.data["items"] if result is not None and result.ok else []
