"""The Network page: IP pools of a cluster (create, edit, enable, disable, delete, with
netcfg's validation errors next to the field they are about; a write that passes becomes
an ``ippool.*`` change, and the page says so, "change created, waiting for approval", with
a link to the change's page, and marks the pool with its pending change) and the flat-network
tickets waiting for a person — the check before submission and the confirmation of the
callback, whose content is shown before the button (DESIGN.md P7, P9)."""
from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from autorke_console.domain.field_errors import field_errors
from autorke_console.domain.pool_form import MODES, form_of, pool_body
from autorke_console.entrypoints.deps import PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import api, api_all, items
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
WAITING = {"planned": "awaiting_check", "callback_received": "awaiting_confirmation"}
_CHANGE_ID = re.compile(r"chg-[0-9a-f]{1,32}")


def _created(cluster: str, result) -> RedirectResponse:
    """Back to the page, naming the change the write became (202), so it can say so."""
    change = (result.data or {}).get("id") if isinstance(result.data, dict) else None
    suffix = f"&change={change}" if isinstance(change, str) and _CHANGE_ID.fullmatch(change) else ""
    return RedirectResponse(f"/ui/network?cluster={cluster}{suffix}", status_code=303)


async def _page(request: Request, cluster: str | None, *, form=None, errors=None, action_result=None,
                edit: str | None = None, status_code: int = 200, created: str | None = None):
    clusters = await api_all(request, "clusters")
    names = [c["name"] for c in items(clusters)]
    cluster = cluster or (names[0] if names else None)
    pools = await api_all(request, f"clusters/{cluster}/ippools") if cluster else None
    tickets = await api_all(request, "tickets")
    pool_items = items(pools)
    edit_form = None
    if edit and form is None:
        edit_form = next((form_of(p) for p in pool_items if p.get("name") == edit), None)
    return render(request, "network.html", status_code=status_code, cluster=cluster, clusters=clusters,
                  names=names, pools=pools, pool_items=pool_items, tickets=tickets,
                  ticket_items=items(tickets),
                  waiting=WAITING, form=form or edit_form or {}, errors=errors or {}, modes=MODES,
                  action_result=action_result, edit=edit, created_change=created)


@router.get("/ui/network")
async def network(request: Request, _: SignedInUser):
    change = request.query_params.get("change")
    return await _page(request, request.query_params.get("cluster"), edit=request.query_params.get("edit"),
                       created=change if change and _CHANGE_ID.fullmatch(change) else None)


def _fields(form: FormData) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if k != "csrf"}


@router.post("/ui/network/{cluster}/pools")
async def create_or_update_pool(cluster: str, request: Request, posted: PostedForm):
    form = _fields(posted)
    editing = form.get("editing") or None
    body, errors = pool_body(form, include_name=editing is None)
    if errors:
        return await _page(request, cluster, form=form, errors=errors, edit=editing, status_code=422)
    if editing:
        result = await api(request, "PUT", f"clusters/{cluster}/ippools/{editing}", json=body)
    else:
        result = await api(request, "POST", f"clusters/{cluster}/ippools", json=body)
    if result.ok:
        return _created(cluster, result)
    return await _page(request, cluster, form=form, errors=field_errors(result.problem),
                       action_result=result, edit=editing, status_code=result.status)


@router.post("/ui/network/{cluster}/pools/{pool}/{verb}")
async def pool_action(cluster: str, pool: str, verb: str, request: Request, _: PostedForm):
    if verb not in ("enable", "disable", "delete"):
        return render(request, "message.html", status_code=403, message="The form expired; reload the page.")
    if verb == "delete":
        result = await api(request, "DELETE", f"clusters/{cluster}/ippools/{pool}")
    else:
        result = await api(request, "POST", f"clusters/{cluster}/ippools/{pool}:{verb}")
    if result.ok:
        return _created(cluster, result)
    return await _page(request, cluster, action_result=result, status_code=result.status)


@router.post("/ui/tickets/{ticket_id}/{verb}")
async def ticket_action(ticket_id: str, verb: str, request: Request, posted: PostedForm):
    form = _fields(posted)
    if verb not in ("approve", "confirm", "retry"):
        return render(request, "message.html", status_code=403, message="The form expired; reload the page.")
    result = await api(request, "POST", f"tickets/{ticket_id}:{verb}", json={"comment": form.get("comment", "")})
    cluster = form.get("cluster") or None
    if result.ok:
        return RedirectResponse(f"/ui/network{'?cluster=' + cluster if cluster else ''}", status_code=303)
    return await _page(request, cluster, action_result=result, status_code=result.status)
