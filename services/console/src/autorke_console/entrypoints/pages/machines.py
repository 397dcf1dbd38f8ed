"""The Machines pages: the fleet table (filter, sort and paging done by inventory, so the
page stays fast at thousands of machines), one machine's facets, history and locks, and
the action flow — form with defaults, the plan from a dry run, then the real submission."""
from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, StreamingResponse

from autorke_console.domain.actions import (
    ACTIONS,
    INIT_PROFILES,
    NODE_ROLES,
    TAINT_EFFECTS,
    FormErrors,
    actions_for,
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


#: The first page's place in the trail of pages walked (it has no cursor).
FIRST_PAGE = "-"
#: The CSV export's columns: (header, how to read it from a machine of the API).
CSV_COLUMNS = (
    ("hostname", lambda m: m.get("hostname")), ("id", lambda m: m.get("id")), ("ip", lambda m: m.get("ip")),
    ("state", lambda m: m.get("state")), ("cluster", lambda m: m.get("cluster")),
    ("roles", lambda m: " ".join(m.get("roles") or [])), ("rack", lambda m: m["network"].get("rack")),
    ("site", lambda m: m["network"].get("site")), ("gpu_model", lambda m: m["hardware"]["gpu"].get("model")),
    ("gpu_count", lambda m: m["hardware"]["gpu"].get("count")),
    ("cpu_model", lambda m: (m["hardware"].get("cpu") or {}).get("model")),
    ("vendor", lambda m: m["hardware"].get("vendor")), ("os", lambda m: m["software"].get("os")),
    ("environment", lambda m: m.get("environment")), ("owner", lambda m: (m.get("owner") or {}).get("team")),
)


def _filters(request: Request) -> tuple[dict, int]:
    q = request.query_params
    try:
        limit = int(q.get("limit", 50))
    except ValueError:
        limit = 50
    limit = limit if limit in PAGE_SIZES else 50
    params = {k: q.get(k) for k in FILTERS}
    params.update(sort=q.get("sort") if q.get("sort") in SORTS else None)
    return params, limit


def paging(request: Request, limit: int, shown: int, next_cursor: str | None) -> dict:
    """Where this page is among the matches ("201–400") and the links to the previous and
    next ones. Pages are keyset cursors, so the way back is the trail of cursors walked to
    get here, carried in the links (``trail``; the first page is ``-``)."""
    q = request.query_params
    trail, cursor = q.getlist("trail"), q.get("cursor")
    base = [(k, v) for k, v in q.multi_items() if k not in ("cursor", "trail") and v]

    def url(at: str | None, walked: list[str]) -> str:
        at = None if at == FIRST_PAGE else at
        return f"{request.url.path}?" + urlencode(base + ([("cursor", at)] if at else [])
                                                  + [("trail", t) for t in walked])
    offset = len(trail) * limit
    return {"first": offset + 1 if shown else 0, "last": offset + shown,
            "previous": url(trail[-1], trail[:-1]) if trail else None,
            "next": url(next_cursor, [*trail, cursor or FIRST_PAGE]) if next_cursor else None}


@router.get("/ui/machines")
async def machines(request: Request, _: SignedInUser):
    params, limit = _filters(request)
    params.update(limit=limit, cursor=request.query_params.get("cursor"))
    result, clusters = await asyncio.gather(api(request, "GET", "machines", params=params),
                                            api_all(request, "clusters"))
    data = result.data if result.ok else {}
    rows = items(result)
    # Each row's menu holds the actions its state allows: labels translated once per page.
    lang = language(request)
    labels = {key: label(a.label, lang) for key, a in ACTIONS.items()}
    row_actions = {m["id"]: [(key, labels[key]) for key in actions_for(m)] for m in rows}
    q = request.query_params
    return render(request, "machines.html", result=result, machines=rows, row_actions=row_actions,
                  next_cursor=data.get("next_cursor"), total=data.get("total"),
                  state_counts=data.get("state_counts") or {},
                  paging=paging(request, limit, len(rows), data.get("next_cursor")),
                  export=f"/ui/machines.csv?{urlencode({k: v for k, v in params.items() if v})}",
                  filters={k: q.get(k, "") for k in FILTERS}, sort=q.get("sort", ""), limit=limit,
                  clusters=items(clusters), states=STATES, roles=NODE_ROLES,
                  sorts=SORTS, page_sizes=PAGE_SIZES, actions=ACTIONS)


@router.get("/ui/machines.csv")
async def machines_csv(request: Request, _: SignedInUser):
    """Every machine the filters match, as CSV (the page's filters and sort), read from the
    API page by page while it is sent."""
    params, _limit = _filters(request)
    first = await api(request, "GET", "machines", params={**params, "limit": 500})
    if not first.ok:
        detail = (first.problem or {}).get("detail") or "the machine list did not answer"
        return render(request, "message.html", status_code=first.status if first.status >= 400 else 502,
                      message=f"No export: {detail}.")

    async def rows() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([name for name, _ in CSV_COLUMNS])
        page, seen = first, set()
        while True:
            for m in page.data["items"]:
                writer.writerow([read(m) for _, read in CSV_COLUMNS])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            cursor = page.data.get("next_cursor")
            if not cursor or cursor in seen:
                return
            seen.add(cursor)
            page = await api(request, "GET", "machines", params={**params, "limit": 500, "cursor": cursor})
            if not page.ok:  # the export ends where the API stopped answering, and says so
                yield f"# incomplete: the machine list stopped answering ({page.status})\n"
                return
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="machines.csv"'})


@router.get("/ui/machines/{machine_id}")
async def machine(machine_id: str, request: Request, _: SignedInUser):
    result = await api(request, "GET", f"machines/{machine_id}")
    history = await api(request, "GET", "changes", params={"limit": 500})
    m = result.data if isinstance(result.data, dict) else {}
    names = {machine_id, m.get("id"), m.get("hostname")} - {None}
    touched = [c for c in items(history) if names & set(c.get("targets") or [])]
    return render(request, "machine.html", result=result, m=m, history=history, changes=touched,
                  actions=ACTIONS, offered=actions_for(m) if m else [], machine_id=machine_id)


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
