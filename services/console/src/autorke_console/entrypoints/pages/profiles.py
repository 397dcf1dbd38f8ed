"""A cluster's node profiles and its CMDB label mapping (issue 18): the list with each one's
latest version and what it gives (labels, taints, kubelet settings, flat network), an editor
(the spec as YAML, saved as a new version with the version it was read at, so a concurrent
edit is refused rather than lost), and the diff of any two versions. The inventory checks a
spec; its refusal is shown next to the editor with the field it names. Saving a profile
changes no machine: a node.add that uses it shows what it gives in its plan, for approval."""
from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from autorke_common import untrusted_yaml
from autorke_console.entrypoints.deps import PostedForm, SignedInUser
from autorke_console.entrypoints.pages.calls import api, items
from autorke_console.entrypoints.pages.rendering import render

router = APIRouter(include_in_schema=False)
MAPPING = "label-mapping"


def _path(cluster: str, name: str) -> str:
    return f"clusters/{cluster}/{MAPPING}" if name == MAPPING else f"clusters/{cluster}/node-profiles/{name}"


def as_yaml(spec: Any) -> str:
    return yaml.safe_dump(spec or {}, sort_keys=True, default_flow_style=False, allow_unicode=True)


async def _page(request: Request, cluster: str, status_code: int = 200, **extra: Any):
    q = request.query_params
    profiles = await api(request, "GET", f"clusters/{cluster}/node-profiles", params={"limit": 200})
    mapping = await api(request, "GET", f"clusters/{cluster}/{MAPPING}")
    edit = extra.pop("edit", None) or q.get("edit")
    if edit and "editor" not in extra:
        current = await api(request, "GET", _path(cluster, edit)) if edit != "new" else None
        doc = current.data if current is not None and current.ok else {}
        extra["editor"] = {"name": "" if edit == "new" else edit, "text": as_yaml(doc.get("spec")) if doc else "",
                           "expected_version": doc.get("version", 0) if doc else 0, "comment": ""}
    diff = None
    if q.get("diff") and q.get("from") and q.get("to"):
        diff = await api(request, "GET", f"{_path(cluster, q['diff'])}:diff", params={"from": q["from"], "to": q["to"]})
    return render(request, "profiles.html", status_code=status_code, cluster=cluster, profiles=profiles,
                  profile_items=items(profiles), mapping=mapping, diff=diff, errors=extra.pop("errors", {}),
                  **extra)


@router.get("/ui/clusters/{cluster}/profiles")
async def profiles(cluster: str, request: Request, _: SignedInUser):
    return await _page(request, cluster)


@router.post("/ui/clusters/{cluster}/profiles")
async def save(cluster: str, request: Request, _: SignedInUser, form: PostedForm):
    name = str(form.get("name") or "").strip()
    editor = {"name": name, "text": str(form.get("spec") or ""), "comment": str(form.get("comment") or ""),
              "expected_version": str(form.get("expected_version") or "0")}
    try:
        spec = untrusted_yaml.load(editor["text"]) if editor["text"].strip() else {}
    except yaml.YAMLError as exc:
        return await _page(request, cluster, 422, editor=editor, edit=name or "new",
                           errors={"spec": f"not YAML: {exc}"})
    body: dict[str, Any] = {"spec": spec, "comment": editor["comment"] or None}
    if editor["expected_version"].isdigit():
        body["expected_version"] = int(editor["expected_version"])
    result = await api(request, "PUT", _path(cluster, name or "-"), json=body)
    if result.ok:
        return RedirectResponse(f"/ui/clusters/{cluster}/profiles?saved={name}", status_code=303)
    problem = result.problem or {}
    field = str(problem.get("field") or "spec")
    message = str(problem.get("detail") or problem.get("title") or "refused")
    return await _page(request, cluster, result.status, editor=editor, edit=name or "new",
                       errors={"name" if field == "name" else "spec": f"{field}: {message}"})
