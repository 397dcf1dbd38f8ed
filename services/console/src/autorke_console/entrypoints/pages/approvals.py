"""The approvals inbox (issue 19): every decision waiting for the signed-in user — gates of
open changes, flat-network tickets to check or confirm — oldest first with who asked and
how long it has waited, and the count the header shows (re-read by the page every few
seconds, so a gate opened elsewhere shows without a reload). Read from the public API as
the user; a service that does not answer is named, never guessed around."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from autorke_common.envelope import utcnow
from autorke_console.domain.inbox import TICKET_DECISIONS, Waiting, inbox
from autorke_console.entrypoints.deps import SignedInUser
from autorke_console.entrypoints.pages.calls import WHOLE_LIST_PAGE, api, items
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)


async def waiting(request: Request, user: dict) -> tuple[list[Waiting], list]:
    """(what waits for ``user``, the calls that failed)."""
    roles = set(user["roles"])
    if not ({"approver", "admin"} & roles):
        return [], []  # nothing here is theirs to decide
    gates, *tickets = await asyncio.gather(
        api(request, "GET", "changes", params={"status": "awaiting_approval", "limit": WHOLE_LIST_PAGE}),
        *(api(request, "GET", "tickets", params={"status": s, "limit": WHOLE_LIST_PAGE}) for s in TICKET_DECISIONS))
    mine = [c for c in items(gates) if c.get("requested_by") != user["sub"]]
    full = await asyncio.gather(*(api(request, "GET", f"changes/{c['id']}") for c in mine))
    failed = [r for r in (gates, *tickets, *full) if not r.ok and r.status != 404]  # 404: closed meanwhile
    changes = [r.data for r in full if r.ok and isinstance(r.data, dict)]
    return inbox(changes, [t for r in tickets for t in items(r)], user["sub"], roles), failed


@router.get("/ui/approvals")
async def approvals(request: Request, user: SignedInUser):
    found, failed = await waiting(request, user)
    return render(request, "approvals.html", waiting=found, failed=failed, now=utcnow())


@router.get("/ui/approvals/count")
async def approvals_count(request: Request, user: SignedInUser) -> JSONResponse:
    found, failed = await waiting(request, user)
    return JSONResponse({"count": len(found), "complete": not failed}, headers={"Cache-Control": "no-store"})
