"""The Events page: the newest kept events that match the filters (the console's event log,
paged back with "older"), each with a one-line summary and its JSON behind a toggle; new
ones are prepended live from ``/api/v1/events`` as they happen. A bad filter says so."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from autorke_common.errors import Problem
from autorke_console.domain.event_log import EventQuery
from autorke_console.domain.subjects import BadSubject, normalise
from autorke_console.entrypoints.deps import SignedInUser
from autorke_console.entrypoints.pages.rendering import render
from autorke_console.service_layer import event_log

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/ui/events")
async def events_page(request: Request, user: SignedInUser):
    q = request.query_params
    roles = set(user["roles"])
    subject, error, page = q.get("subject", ""), None, None
    try:
        query = EventQuery(normalise(subject), q.get("correlation_id") or None, q.get("actor") or None,
                           q.get("cluster") or None)
        page = await asyncio.to_thread(event_log.history, request.app.state.runtime.uow(), query, PAGE,
                                       q.get("cursor"), lambda role: "admin" in roles or role in roles)
    except BadSubject as exc:
        error = str(exc)
    except Problem as exc:  # a cursor this page did not give out
        error = exc.detail or exc.title
    return render(request, "events.html", status_code=422 if error else 200, subject=subject,
                  correlation_id=q.get("correlation_id", ""), actor=q.get("actor", ""), cluster=q.get("cluster", ""),
                  history=page.items if page else [], next_cursor=page.next_cursor if page else None,
                  older=bool(q.get("cursor")), error=error)
