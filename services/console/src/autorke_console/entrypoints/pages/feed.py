"""The Events page: a live, filterable feed of the platform's event stream (the browser
reads ``/api/v1/events`` directly; this only serves the page)."""
from __future__ import annotations

from fastapi import APIRouter, Request

from autorke_console.entrypoints.deps import SignedInUser
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/ui/events")
def events_page(request: Request, _: SignedInUser):
    return render(request, "events.html", subject=request.query_params.get("subject", ""),
                  correlation_id=request.query_params.get("correlation_id", ""))
