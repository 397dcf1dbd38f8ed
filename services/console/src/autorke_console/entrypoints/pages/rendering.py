"""Jinja2 rendering shared by every page: the signed-in user, the language, the CSRF
token, status colours and the ``can(role)`` test the templates use to decide which
buttons a user sees (the services still decide which calls succeed)."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from autorke_console.domain.facets import summary
from autorke_console.domain.i18n import DEFAULT, LANGUAGES, label
from autorke_console.domain.status import tone
from autorke_console.entrypoints.session import session_user


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("autorke_console", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["tone"] = tone
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)
    env.filters["compact"] = _compact
    env.filters["facets"] = summary
    env.filters["actor"] = actor
    return env


def actor(identity: str | None) -> Markup:
    """A recorded caller (``<issuer>#<sub>``) as people read it: the subject, with the whole
    identity on hover; the platform's own ``system`` as it is."""
    if not identity:
        return Markup("—")
    short = identity.rsplit("#", 1)[-1]
    return Markup('<span title="{}">{}</span>').format(identity, short)


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
