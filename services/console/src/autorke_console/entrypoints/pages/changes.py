"""The Changes pages: the list with status filters, and one change — its plan and blast
radius, the step timeline and per-target results (a fragment the page re-fetches whenever
the event stream reports something about the change), and the buttons that fit its state
and the user's role. A requester never sees an approve button on their own change; the
orchestrator refuses such an approval anyway (``self-approval``)."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse

from autorke_console.domain.change_view import ChangeView
from autorke_console.entrypoints.deps import FragmentUser, PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import api, api_all, items
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


#: The most jobs of one change whose output a page reads (retries of a long change add up).
MAX_JOBS = 50


async def job_outputs(request: Request, change_id: str) -> tuple[list[dict], object]:
    """Every executor job of the change, oldest first, each with its per-host results as
    the executor stored them (exit code, duration, output head and tail, error), and the
    step and attempt it ran for: what the page shows after any reload. Also the list's
    answer, to say so when the executor does not answer."""
    listed = await api_all(request, "jobs", params={"change_id": change_id})
    found = sorted(items(listed), key=lambda j: (j.get("created_at") or "", j.get("id") or ""))[-MAX_JOBS:]
    answers = await asyncio.gather(*(api(request, "GET", f"jobs/{j['id']}") for j in found))
    jobs = []
    for answer in answers:
        if answer.ok and isinstance(answer.data, dict):
            job = answer.data
            parts = str(job.get("id")).rsplit(":", 2)  # <change>:<step>:<attempt>
            step, attempt = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
            jobs.append({**job, "step": step, "attempt": attempt,
                         "targets": sorted(job.get("targets") or [], key=lambda t: t.get("host") or "")})
    return jobs, listed


@router.get("/ui/changes/{change_id}")
async def change(change_id: str, request: Request, user: SignedInUser):
    (result, view), (jobs, listed) = await asyncio.gather(_view(request, user, change_id),
                                                          job_outputs(request, change_id))
    return render(request, "change.html", result=result, v=view, change_id=change_id, jobs=jobs, jobs_result=listed,
                  notice=request.query_params.get("notice"))


@router.get("/ui/changes/{change_id}/output")
async def change_output(change_id: str, request: Request, _: SignedInUser):
    """The stored output as text: one host of one job (``job``, ``host``), one job, or all of
    the change's jobs; a header line before each host's."""
    job, host = request.query_params.get("job"), request.query_params.get("host")
    jobs, listed = await job_outputs(request, change_id)
    if not listed.ok:
        return PlainTextResponse(f"the executor did not answer ({listed.status})\n", status_code=502)
    chosen = [j for j in jobs if not job or j["id"] == job]
    parts = []
    for j in chosen:
        for t in j["targets"]:
            if host and t.get("host") != host:
                continue
            parts.append(f"===== {j['id']} {t.get('host')}: {t.get('status')}, exit {t.get('exit_code')}, "
                         f"{t.get('duration_s')} s =====\n{t.get('output') or ''}"
                         + (f"\n[error] {t['error']}" if t.get("error") else ""))
    if not parts:
        return PlainTextResponse("no stored output matches\n", status_code=404)
    name = "-".join(x.replace(":", "_") for x in (change_id, job, host) if x)
    return PlainTextResponse("\n".join(parts) + "\n",
                             headers={"Content-Disposition": f'attachment; filename="{name}.txt"'})


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
