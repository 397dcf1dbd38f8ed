"""The dashboard, where a signed-in user lands: machines by state, each cluster's nodes
(members, Ready, NotReady) and open changes, the changes by status, the approvals waiting
for this user, and the newest changes. Every figure is read from the public API as the
user, all calls at once; a service that does not answer is shown as such."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from autorke_console.domain.dashboard import OPEN, TROUBLE, Count, count_of, node_health
from autorke_console.entrypoints.deps import SignedInUser
from autorke_console.entrypoints.pages.approvals import waiting
from autorke_console.entrypoints.pages.calls import WHOLE_LIST_PAGE, api, api_all, items
from autorke_console.entrypoints.pages.machines import STATES
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
RECENT = 10


@router.get("/ui/dashboard")
async def dashboard(request: Request, user: SignedInUser):
    clusters = await api_all(request, "clusters")
    names = [c["name"] for c in items(clusters)]
    machines, by_status, recent, nodes, (inbox, _failed) = await asyncio.gather(
        api(request, "GET", "machines", params={"limit": 1}),  # its state_counts: every state in one call
        asyncio.gather(*(api(request, "GET", "changes", params={"status": s, "limit": WHOLE_LIST_PAGE})
                         for s in (*OPEN, *TROUBLE))),
        api(request, "GET", "changes", params={"limit": RECENT}),
        asyncio.gather(*(api_all(request, f"clusters/{n}/nodes") for n in names)), waiting(request, user))
    counts = (machines.data.get("state_counts") or {}) if machines.ok else {}
    changes = dict(zip((*OPEN, *TROUBLE), by_status, strict=True))
    open_changes = [c for s in OPEN for c in items(changes[s])]
    rows = [{"name": c["name"], "provider": c.get("provider"), **node_health(items(found)), "ok": found.ok,
             "open": sum(1 for o in open_changes if o.get("cluster") == c["name"])}
            for c, found in zip(items(clusters), nodes, strict=True)]
    return render(request, "dashboard.html", clusters=clusters, rows=rows,
                  states=[(s, Count(counts.get(s, 0)) if machines.ok else None) for s in STATES],
                  machines=machines, change_counts=[(s, count_of(r.data) if r.ok else None)
                                                     for s, r in changes.items()],
                  changes=by_status[0], waiting=inbox,
                  recent=recent, recent_items=items(recent))
