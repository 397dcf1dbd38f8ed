"""The Machines pages: the fleet table (filter, sort and paging done by inventory, so the
page stays fast at thousands of machines), one machine's facets, history and locks, and
the action flow — form with defaults, the plan from a dry run, then the real submission."""
from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from autorke_console.domain.actions import (
    ACTIONS,
    INIT_PROFILES,
    NODE_ROLES,
    TAINT_EFFECTS,
    FormErrors,
    change_request,
)
from autorke_console.domain.field_errors import field_errors
from autorke_console.domain.i18n import label
from autorke_console.entrypoints.deps import PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import api, api_all, items
from autorke_console.entrypoints.pages.rendering import language, render

router = APIRouter(include_in_schema=False)
FILTERS = ("cluster", "state", "role", "gpu_model", "rack", "q")
SORTS = ("hostname", "-hostname", "ip", "-ip", "state", "rack", "gpu_model")
PAGE_SIZES = (25, 50, 100, 200)
STATES = ("available", "initializing", "ready", "joining", "member", "draining", "removing",
          "cleaning", "faulty", "retired")


@router.get("/ui/machines")
async def machines(request: Request, _: SignedInUser):
    q = request.query_params
    try:
        limit = int(q.get("limit", 50))
    except ValueError:
        limit = 50
    limit = limit if limit in PAGE_SIZES else 50
    params = {k: q.get(k) for k in FILTERS}
    params.update(sort=q.get("sort") if q.get("sort") in SORTS else None, limit=limit, cursor=q.get("cursor"))
    result, clusters = await asyncio.gather(api(request, "GET", "machines", params=params),
                                            api_all(request, "clusters"))
    data = result.data if result.ok else {}
    # Each row has a menu of every action: translated once per page, not once per row.
    lang = language(request)
    action_labels = [(key, label(a.label, lang)) for key, a in ACTIONS.items()]
    return render(request, "machines.html", result=result, machines=items(result),
                  action_labels=action_labels,
                  next_cursor=data.get("next_cursor"), total=data.get("total"),
                  filters={k: q.get(k, "") for k in FILTERS}, sort=q.get("sort", ""), limit=limit,
                  clusters=items(clusters), states=STATES, roles=NODE_ROLES,
                  sorts=SORTS, page_sizes=PAGE_SIZES, actions=ACTIONS)


@router.get("/ui/machines/{machine_id}")
async def machine(machine_id: str, request: Request, _: SignedInUser):
    result = await api(request, "GET", f"machines/{machine_id}")
    history = await api(request, "GET", "changes", params={"limit": 500})
    m = result.data if isinstance(result.data, dict) else {}
    names = {machine_id, m.get("id"), m.get("hostname")} - {None}
    touched = [c for c in items(history) if names & set(c.get("targets") or [])]
    return render(request, "machine.html", result=result, m=m, history=history, changes=touched,
                  actions=ACTIONS, machine_id=machine_id)


async def _node_profiles(request: Request, form: dict, clusters) -> list[dict]:
    """The node profiles to pick from: the chosen cluster's (else every cluster's, by name)."""
    names = [form["cluster"]] if form.get("cluster") else [c.get("name") for c in items(clusters)]
    found: dict[str, dict] = {}
    for name in names:
        result = await api(request, "GET", f"clusters/{name}/node-profiles")
        for p in items(result):
            found.setdefault(p["name"], {"name": p["name"], "builtin": p.get("builtin", False),
                                         "network": bool(((p.get("spec") or {}).get("network") or {}).get("enabled"))})
    found.setdefault("default", {"name": "default", "builtin": True, "network": False})
    return sorted(found.values(), key=lambda p: (p["name"] != "default", p["name"]))


async def _form_page(request: Request, action_key: str, targets: list[str], form: dict, clusters, errors=None,
                     result=None, status_code: int = 200):
    action = ACTIONS[action_key]
    profiles = await _node_profiles(request, form, clusters) if "node_profile" in action.fields else []
    return render(request, "action.html", status_code=status_code, action=action,
                  targets=targets, form=form, errors=errors or {}, result=result,
                  clusters=items(clusters), roles=NODE_ROLES, node_profiles=profiles,
                  profiles=INIT_PROFILES, effects=TAINT_EFFECTS)


@router.get("/ui/actions/{action_key}")
async def action_form(action_key: str, request: Request, _: SignedInUser):
    if action_key not in ACTIONS:
        return render(request, "message.html", status_code=404, message=f"No action {action_key!r}.")
    targets = request.query_params.getlist("targets")
    form = dict(ACTIONS[action_key].defaults)
    if request.query_params.get("cluster"):
        form["cluster"] = request.query_params["cluster"]
    clusters = await api_all(request, "clusters")
    return await _form_page(request, action_key, targets, form, clusters)


@router.post("/ui/actions/{action_key}")
async def action_submit(action_key: str, request: Request, raw: PostedForm):
    """``step=plan`` asks for a dry run and shows the plan; ``step=submit`` creates the change."""
    if action_key not in ACTIONS:
        return render(request, "message.html", status_code=404, message=f"No action {action_key!r}.")
    action = ACTIONS[action_key]
    targets = [str(t) for t in raw.getlist("targets")]
    form = {k: str(v) for k, v in raw.items() if k not in ("targets", "csrf")}
    clusters = await api_all(request, "clusters")
    if action.key == "refresh":  # read-only: facts are gathered, nothing is changed, no plan
        result = await api(request, "POST", "machines:facts", json={"machines": targets})
        if not result.ok:
            return await _form_page(request, action_key, targets, form, clusters, field_errors(result.problem),
                              result, status_code=result.status)
        return render(request, "message.html", title_key="refresh_facts",
                      message=f"Facts requested for {', '.join(targets)}: {result.data}")
    submit = raw.get("step") == "submit"
    if submit and raw.get("body"):
        body = json.loads(str(raw["body"]))
        body["dry_run"] = False
    else:
        try:
            body = change_request(action, targets, form, dry_run=True)
        except FormErrors as exc:
            return await _form_page(request, action_key, targets, form, clusters, exc.errors, status_code=422)
    result = await api(request, "POST", "changes", json=body)
    if not result.ok:
        return await _form_page(request, action_key, targets, form, clusters, field_errors(result.problem),
                          result, status_code=result.status)
    if submit:
        change_id = (result.data or {}).get("id")
        return RedirectResponse(f"/ui/changes/{change_id}", status_code=303)
    return render(request, "plan.html", action=action, targets=targets, body=json.dumps(body),
                  change=result.data or {}, form=form)
