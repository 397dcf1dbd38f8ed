"""The Changes pages: the list with status filters, and one change — its plan and blast
radius, the step timeline and per-target results (a fragment the page re-fetches whenever
the event stream reports something about the change), and the buttons that fit its state
and the user's role. A requester never sees an approve button on their own change; the
orchestrator refuses such an approval anyway (``self-approval``)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from autorke_console.domain.change_view import ChangeView
from autorke_console.entrypoints.deps import FragmentUser, PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import api, items
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
STATUSES = ("planned", "running", "awaiting_approval", "succeeded", "partially_failed", "failed",
            "compensating", "cancelled")


@router.get("/ui/changes")
async def changes(request: Request, _: SignedInUser):
    status = request.query_params.get("status") or None
    status = status if status in STATUSES else None
    result = await api(request, "GET", "changes", params={"status": status, "limit": 100,
                                                           "cluster": request.query_params.get("cluster") or None,
                                                           "cursor": request.query_params.get("cursor")})
    return render(request, "changes.html", result=result, changes=items(result),
                  status=status or "", statuses=STATUSES,
                  next_cursor=result.data.get("next_cursor") if result.ok else None)


async def _view(request: Request, user: dict, change_id: str):
    result = await api(request, "GET", f"changes/{change_id}")
    view = ChangeView(result.data or {}, user["sub"], set(user["roles"])) if result.ok else None
    return result, view


@router.get("/ui/changes/{change_id}")
async def change(change_id: str, request: Request, user: SignedInUser):
    result, view = await _view(request, user, change_id)
    return render(request, "change.html", result=result, v=view, change_id=change_id,
                  notice=request.query_params.get("notice"))


@router.get("/ui/changes/{change_id}/live")
async def change_live(change_id: str, request: Request, user: FragmentUser):
    """The live part of a change's page, re-fetched on each of its events."""
    result, view = await _view(request, user, change_id)
    return render(request, "change_live.html", result=result, v=view, change_id=change_id)


@router.post("/ui/changes/{change_id}/{verb}")
async def change_action(change_id: str, verb: str, request: Request, user: SignedInUser, form: PostedForm):
    comment = str(form.get("comment", ""))
    if verb in ("approve", "reject"):
        result = await api(request, "POST", f"changes/{change_id}/approvals",
                           json={"step": str(form.get("step", "")), "decision": verb, "comment": comment})
    elif verb in ("retry", "cancel", "continue"):
        result = await api(request, "POST", f"changes/{change_id}:{verb}", json={} if verb == "retry" else None)
    elif verb == "force-cancel":  # admins: close a stuck change now, with the reason audited
        result = await api(request, "POST", f"changes/{change_id}:force-cancel",
                           json={"reason": str(form.get("reason", ""))})
    else:
        return render(request, "message.html", status_code=404, message=f"No action {verb!r}.")
    if result.ok:
        return RedirectResponse(f"/ui/changes/{change_id}", status_code=303)
    page_result, view = await _view(request, user, change_id)
    return render(request, "change.html", status_code=result.status, result=page_result, v=view,
                  change_id=change_id, action_result=result)
