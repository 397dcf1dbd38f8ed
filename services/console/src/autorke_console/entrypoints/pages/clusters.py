"""The Clusters pages: the list, and one cluster's nodes (roles; Ready, conditions, cordoned
and kubelet version as the inventory last read them from the cluster's API, with a refresh
for operators) and configs
(versions, a side-by-side diff of any two, rollback to a version — which inventory turns
into a change that goes through approval like any other)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from autorke_console.domain.side_by_side import side_by_side
from autorke_console.entrypoints.pages.rendering import (
    api,
    items_of,
    posted_form,
    render,
    sign_in_redirect,
)
from autorke_console.service_layer.identity import session_user

router = APIRouter(include_in_schema=False)
CONFIG_KINDS = ("cluster.yml", "cluster.rkestate", "kubeconfig")


@router.get("/ui/clusters")
async def clusters(request: Request):
    if session_user(request) is None:
        return sign_in_redirect(request)
    result = await api(request, "GET", "clusters")
    return render(request, "clusters.html", result=result, clusters=items_of(result.data, "clusters"))


def _config_text(data) -> str:
    if isinstance(data, dict):
        for key in ("content", "text", "data", "body"):
            if isinstance(data.get(key), str):
                return data[key]
    return data if isinstance(data, str) else ""


@router.get("/ui/clusters/{name}")
async def cluster(name: str, request: Request):
    if session_user(request) is None:
        return sign_in_redirect(request)
    q = request.query_params
    kind = q.get("kind") if q.get("kind") in CONFIG_KINDS else "cluster.yml"
    result = await api(request, "GET", f"clusters/{name}")
    nodes = await api(request, "GET", f"clusters/{name}/nodes")
    versions = await api(request, "GET", f"clusters/{name}/configs/{kind}")
    diff_rows = diff = None
    if q.get("from") and q.get("to"):
        diff = await api(request, "GET", f"clusters/{name}/configs/{kind}:diff",
                         params={"from": q["from"], "to": q["to"]})
        left = await api(request, "GET", f"clusters/{name}/configs/{kind}/{q['from']}")
        right = await api(request, "GET", f"clusters/{name}/configs/{kind}/{q['to']}")
        if left.ok and right.ok:
            diff_rows = side_by_side(_config_text(left.data), _config_text(right.data))
    return render(request, "cluster.html", name=name, result=result, c=result.data or {}, nodes=nodes,
                  node_items=items_of(nodes.data, "nodes"), versions=versions,
                  version_items=items_of(versions.data, "versions"), kind=kind, kinds=CONFIG_KINDS,
                  diff=diff, diff_rows=diff_rows, frm=q.get("from", ""), to=q.get("to", ""))


@router.post("/ui/clusters/{name}/nodes/refresh")
async def refresh_nodes(name: str, request: Request):
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    result = await api(request, "POST", f"clusters/{name}/nodes:refresh")
    if result.ok:
        return RedirectResponse(f"/ui/clusters/{name}", status_code=303)
    return render(request, "message.html", status_code=result.status,
                  message=(result.problem or {}).get("detail") or (result.problem or {}).get("title")
                  or "The refresh was not accepted.")


@router.post("/ui/clusters/{name}/configs/{kind}/rollback")
async def rollback(name: str, kind: str, request: Request):
    form = await posted_form(request)
    if isinstance(form, Response):
        return form
    result = await api(request, "POST", f"clusters/{name}/configs/{kind}:rollback",
                       json={"version": str(form.get("version", "")), "comment": str(form.get("comment", ""))})
    if result.ok and isinstance(result.data, dict) and (result.data.get("change_id") or result.data.get("id")):
        return RedirectResponse(f"/ui/changes/{result.data.get('change_id') or result.data['id']}", status_code=303)
    return render(request, "message.html", status_code=result.status if not result.ok else 200,
                  message=(result.problem or {}).get("detail") or (result.problem or {}).get("title")
                  or "Rollback requested.")
