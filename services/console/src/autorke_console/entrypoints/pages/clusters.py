"""The Clusters pages: the list, Register (admins), and one cluster's nodes (roles; Ready, conditions, cordoned
and kubelet version as the inventory last read them from the cluster's API, with a refresh
for operators) and configs
(versions, a side-by-side diff of any two, rollback to a version — which inventory turns
into a change that goes through approval like any other), with Import (its members read from
its API server, or from uploaded cluster.yml + cluster.rkestate: a config.import change,
like a rollback, shown as "change created, waiting for approval" with its link). The
inventory decides what is valid; its errors are shown next to the field they are about."""
from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from autorke_console.domain.cluster_form import (
    DEFAULTS,
    PROVIDERS,
    import_body,
    registration_body,
    shown_again,
)
from autorke_console.domain.dashboard import OPEN, PROVIDER_NAMES, cluster_status, node_health
from autorke_console.domain.field_errors import field_errors
from autorke_console.domain.side_by_side import side_by_side
from autorke_console.entrypoints.deps import PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import WHOLE_LIST_PAGE, api, api_all, items
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
CONFIG_KINDS = ("cluster.yml", "cluster.rkestate", "kubeconfig")
#: The config kinds a provider has: RKE2 keeps no cluster.yml or rkestate.
PROVIDER_KINDS = {"rke": CONFIG_KINDS, "rke2": ("kubeconfig",)}


@router.get("/ui/clusters")
async def clusters(request: Request, _: SignedInUser):
    """Each cluster with its type, its nodes' health as last read (Ready of members), and
    its open changes: the list, then every cluster's nodes and the open changes at once."""
    result = await api_all(request, "clusters")
    found = items(result)
    nodes, *open_changes = await asyncio.gather(
        asyncio.gather(*(api_all(request, f"clusters/{c['name']}/nodes") for c in found)),
        *(api(request, "GET", "changes", params={"status": s, "limit": WHOLE_LIST_PAGE}) for s in OPEN))
    opened = [c.get("cluster") for r in open_changes for c in items(r)]
    rows = []
    for c, members in zip(found, nodes, strict=True):
        health = node_health(items(members)) if members.ok else None
        rows.append({"name": c["name"], "type": PROVIDER_NAMES.get(c.get("provider"), c.get("provider")),
                     "status": cluster_status(health) if health else None, "health": health,
                     "api_endpoint": c.get("api_endpoint"), "open": opened.count(c["name"])})
    return render(request, "clusters.html", result=result, rows=rows)


def _config_text(data) -> str:
    if isinstance(data, dict):
        for key in ("content", "text", "data", "body"):
            if isinstance(data.get(key), str):
                return data[key]
    return data if isinstance(data, str) else ""


async def _fields(form: FormData) -> dict[str, str]:
    """The posted form as text; an uploaded file is read into its field."""
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if key == "csrf":
            continue
        if isinstance(value, UploadFile):
            text = (await value.read()).decode(errors="replace")
            if text or key not in out:
                out[key] = text
        elif value or key not in out:
            out[key] = str(value)
    return out


def _register_page(request: Request, form: dict | None = None, errors: dict | None = None,
                   result=None, status_code: int = 200):
    return render(request, "cluster_new.html", status_code=status_code,
                  form={**DEFAULTS, **(form or {})}, errors=errors or {}, providers=PROVIDERS,
                  action_result=result)


def _admins_only(request: Request, user: dict, message: str = "Only an admin registers clusters.") -> Response | None:
    if "admin" not in user.get("roles", []):
        return render(request, "message.html", status_code=403, message=message)
    return None


@router.get("/ui/clusters/new")
def register_form(request: Request, user: SignedInUser):
    return _admins_only(request, user) or _register_page(request)


@router.post("/ui/clusters")
async def register(request: Request, user: SignedInUser, posted: PostedForm):
    refused = _admins_only(request, user)
    if refused:
        return refused
    form = await _fields(posted)
    body, errors = registration_body(form)
    if errors:
        return _register_page(request, shown_again(form), errors, status_code=422)
    result = await api(request, "POST", "clusters", json=body)
    if result.ok:
        return RedirectResponse(f"/ui/clusters/{body['name']}", status_code=303)
    return _register_page(request, shown_again(form), field_errors(result.problem), result,
                          status_code=result.status)


def _overview(result, nodes, open_changes) -> dict | None:
    """What the cluster page opens with: type, API, node health, versions, open changes."""
    if not (result.ok and isinstance(result.data, dict)):
        return None
    c, members = result.data, items(nodes)
    health = node_health(members) if nodes.ok else None
    versions = sorted({str(((m.get("kubernetes") or {}).get("node") or {}).get("kubelet_version"))
                       for m in members if ((m.get("kubernetes") or {}).get("node") or {}).get("kubelet_version")})
    return {"type": PROVIDER_NAMES.get(c.get("provider"), c.get("provider")), "api_endpoint": c.get("api_endpoint"),
            "health": health, "status": cluster_status(health) if health else None, "kubelet_versions": versions,
            "open_changes": [ch for r in open_changes for ch in items(r)],
            "pod_cidr": c.get("pod_cidr"), "service_cidr": c.get("service_cidr"), "bgp_as": c.get("bgp_as")}


@router.get("/ui/clusters/{name}/kubeconfig")
async def kubeconfig(name: str, request: Request, user: SignedInUser):
    """The cluster's newest kubeconfig, whole, as a file: admins only; the inventory keeps
    who read it (``inventory.config.revealed``)."""
    refused = _admins_only(request, user, "Only an admin downloads a kubeconfig.")
    if refused:
        return refused
    versions = await api_all(request, f"clusters/{name}/configs/kubeconfig")
    newest = max((v["version"] for v in items(versions)), default=None)
    if newest is None:
        return render(request, "message.html", status_code=versions.status if not versions.ok else 404,
                      message=f"No kubeconfig of {name} is kept.")
    answer = await api(request, "GET", f"clusters/{name}/configs/kubeconfig/{newest}", params={"reveal": "true"})
    if not answer.ok:
        return render(request, "message.html", status_code=answer.status,
                      message=(answer.problem or {}).get("detail") or "The inventory did not give the kubeconfig.")
    return PlainTextResponse(_config_text(answer.data), media_type="application/yaml",
                             headers={"Content-Disposition": f'attachment; filename="{name}-kubeconfig.yaml"',
                                      "Cache-Control": "no-store"})


@router.get("/ui/clusters/{name}")
async def cluster(name: str, request: Request, _: SignedInUser):
    return await _cluster_page(request, name)


async def _cluster_page(request: Request, name: str, status_code: int = 200, **extra):
    q = request.query_params
    result, nodes, *open_changes = await asyncio.gather(
        api(request, "GET", f"clusters/{name}"), api_all(request, f"clusters/{name}/nodes"),
        *(api(request, "GET", "changes", params={"status": s, "cluster": name, "limit": WHOLE_LIST_PAGE})
          for s in OPEN))
    provider = result.data.get("provider") if result.ok and isinstance(result.data, dict) else None
    kinds = PROVIDER_KINDS.get(provider, CONFIG_KINDS)
    kind = q.get("kind") if q.get("kind") in kinds else kinds[0]
    versions = await api_all(request, f"clusters/{name}/configs/{kind}")
    diff_rows = diff = None
    if q.get("from") and q.get("to"):
        diff = await api(request, "GET", f"clusters/{name}/configs/{kind}:diff",
                         params={"from": q["from"], "to": q["to"]})
        left = await api(request, "GET", f"clusters/{name}/configs/{kind}/{q['from']}")
        right = await api(request, "GET", f"clusters/{name}/configs/{kind}/{q['to']}")
        if left.ok and right.ok:
            diff_rows = side_by_side(_config_text(left.data), _config_text(right.data))
    if q.get("import_job") and "import_job" not in extra:
        extra["import_job"] = await api(request, "GET", f"clusters/{name}/imports/{q['import_job']}")
    extra.setdefault("import_errors", {})
    extra.setdefault("import_form", {"source": "kubernetes"})
    return render(request, "cluster.html", status_code=status_code, name=name, result=result, c=result.data or {},
                  nodes=nodes, node_items=items(nodes), versions=versions,
                  overview=_overview(result, nodes, open_changes),
                  version_items=items(versions), kind=kind, kinds=kinds,
                  diff=diff, diff_rows=diff_rows, frm=q.get("from", ""), to=q.get("to", ""), **extra)


@router.post("/ui/clusters/{name}/import")
async def import_cluster(name: str, request: Request, posted: PostedForm):
    form = await _fields(posted)
    body, errors = import_body(form)
    shown = shown_again(form)
    if errors:
        return await _cluster_page(request, name, 422, import_errors=errors, import_form=shown)
    result = await api(request, "POST", f"clusters/{name}:import", json=body)
    if result.ok and body["source"] == "kubernetes" and isinstance(result.data, dict):
        return RedirectResponse(f"/ui/clusters/{name}?import_job={result.data.get('job_id', '')}",
                                status_code=303)
    if result.ok and isinstance(result.data, dict) and result.data.get("id"):  # from files: a change (H2)
        return _change_created(request, result.data)
    if result.ok:
        return await _cluster_page(request, name, import_report=result.data, import_form=shown)
    errors = field_errors(result.problem)
    if "" in errors and body["source"] == "files":  # a refused cluster.yml says why, by the file
        errors["cluster_yml"] = errors.pop("")
    return await _cluster_page(request, name, result.status, import_errors=errors,
                               import_form=shown, import_result=result)


@router.post("/ui/clusters/{name}/nodes/refresh")
async def refresh_nodes(name: str, request: Request, _: PostedForm):
    result = await api(request, "POST", f"clusters/{name}/nodes:refresh")
    if result.ok:
        return RedirectResponse(f"/ui/clusters/{name}", status_code=303)
    return render(request, "message.html", status_code=result.status,
                  message=(result.problem or {}).get("detail") or (result.problem or {}).get("title")
                  or "The refresh was not accepted.")


@router.post("/ui/clusters/{name}/configs/{kind}/rollback")
async def rollback(name: str, kind: str, request: Request, form: PostedForm):
    version = str(form.get("version", ""))
    body = {"to": int(version) if version.isdigit() else version}  # the API names it ``to`` (L11)
    if form.get("comment"):
        body["comment"] = str(form.get("comment"))
    result = await api(request, "POST", f"clusters/{name}/configs/{kind}:rollback", json=body)
    if result.ok and isinstance(result.data, dict) and result.data.get("id"):
        return _change_created(request, result.data)
    return render(request, "message.html", status_code=result.status if not result.ok else 200,
                  message=(result.problem or {}).get("detail") or (result.problem or {}).get("title")
                  or "Rollback requested.")


def _change_created(request: Request, change: dict) -> Response:
    """A config write became a change: it waits for approval (another user; an admin for
    the cluster's keys). Where to follow it."""
    return render(request, "message.html", status_code=202, title_key="change_created",
                  message=f"{change.get('type', 'change')} {change['id']}:", note_key="waiting_approval",
                  link=f"/ui/changes/{change['id']}", link_key="open_change")
