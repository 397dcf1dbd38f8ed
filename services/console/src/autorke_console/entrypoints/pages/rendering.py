"""Jinja2 rendering shared by every page: the signed-in user, the language, the CSRF
token, status colours and the ``can(role)`` test the templates use to decide which
buttons a user sees (the services still decide which calls succeed)."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData

from autorke_console.domain.facets import summary
from autorke_console.domain.i18n import DEFAULT, LANGUAGES, label
from autorke_console.domain.status import tone
from autorke_console.service_layer.identity import csrf_ok, session_user


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("autorke_console", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["tone"] = tone
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
    env.filters["compact"] = _compact
    env.filters["facets"] = summary
    return env


def _compact(value: Any) -> str:
    if value in (None, "", [], {}):
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_compact(v) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def language(request: Request) -> str:
    lang = request.cookies.get("lang", DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = session_user(request)
    lang = language(request)
    roles = set(user["roles"]) if user else set()

    def can(role: str) -> bool:
        return "admin" in roles or role in roles

    def url_with(**changes: Any) -> str:
        params = dict(request.query_params)
        params.update({k: v for k, v in changes.items()})
        return f"{request.url.path}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}"

    html = environment().get_template(template).render(
        request=request, user=user, lang=lang, t=lambda key: label(key, lang), can=can,
        csrf=user["csrf"] if user else "", path=request.url.path, url_with=url_with, **context)
    return HTMLResponse(html, status_code=status_code)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?{urlencode({'next': target})}", status_code=303)


async def posted_form(request: Request) -> FormData | Response:
    """The form a signed-in user posted, or the answer that ends the request: the sign-in
    page without a session, 403 when the form's CSRF token is not this session's."""
    user = session_user(request)
    if user is None:
        return sign_in_redirect(request)
    form = await request.form()
    if not csrf_ok(request, user, str(form.get("csrf", ""))):
        return render(request, "message.html", status_code=403, message="The form expired; reload the page.")
    return form


async def api(request: Request, method: str, path: str, **kwargs: Any):
    """One call to the public API as the signed-in user (an ``ApiResult``)."""
    user = session_user(request)
    return await request.app.state.upstreams.call(method, path, user["token"] if user else None, **kwargs)


def items_of(data: Any, *keys: str) -> list:
    """The list in a collection answer, whether it is a bare list or wrapped."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in (*keys, "items", "data", "results"):
            if isinstance(data.get(key), list):
                return data[key]
    return []
