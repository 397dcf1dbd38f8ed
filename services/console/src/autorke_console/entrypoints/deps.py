"""The console's route dependencies, as ``Annotated`` aliases (template ``api/deps.py``):

* :data:`SignedInUser`: the session's user; without one a page answers the sign-in
  redirect (back to the page afterwards), so no page checks the session by hand;
* :data:`FragmentUser`: the same for a piece of a page that the browser re-fetches
  (answered 401 ``signed out``, which the page's script understands, not a redirect);
* :data:`PostedForm`: the form a signed-in user posted, its CSRF token checked (403
  otherwise);
* :data:`ApiCaller`: the caller of an ``/api/v1`` call (bearer token or session);
* :data:`UpstreamsDep`, :data:`EventFeedDep`: the runtime's pooled client to the services
  and the shared event feed.

The refusals are exceptions that :func:`answer_refusals` maps to their responses. The
dependencies are ``async`` because they only read the request (no blocking work to hand
to the thread pool).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from autorke_console.adapters.event_feed import EventFeed
from autorke_console.adapters.upstream import Upstreams
from autorke_console.entrypoints.pages.rendering import render, sign_in_redirect
from autorke_console.entrypoints.session import api_caller, csrf_ok, session_user
from autorke_console.service_layer.identity import Caller


class SignInRequired(Exception):
    """Asked for a page without a session (``fragment``: a piece a signed-in page re-fetches)."""

    def __init__(self, fragment: bool = False) -> None:
        super().__init__("sign in first")
        self.fragment = fragment


class FormExpired(Exception):
    """A posted form's CSRF token is not this session's (an old page, or another site's)."""


async def _signed_in_user(request: Request) -> dict:
    user = session_user(request)
    if user is None:
        raise SignInRequired()
    return user


async def _fragment_user(request: Request) -> dict:
    user = session_user(request)
    if user is None:
        raise SignInRequired(fragment=True)
    return user


SignedInUser = Annotated[dict, Depends(_signed_in_user)]
FragmentUser = Annotated[dict, Depends(_fragment_user)]


async def _posted_form(request: Request, user: SignedInUser) -> FormData:
    form = await request.form()
    if not csrf_ok(request, user, str(form.get("csrf", ""))):
        raise FormExpired()
    return form


async def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams


async def _event_feed(request: Request) -> EventFeed:
    return request.app.state.event_feed


PostedForm = Annotated[FormData, Depends(_posted_form)]
ApiCaller = Annotated[Caller, Depends(api_caller)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]
EventFeedDep = Annotated[EventFeed, Depends(_event_feed)]


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired) and exc.fragment:
        return render(request, "message.html", status_code=401, message="signed out")
    return sign_in_redirect(request)


async def _form_expired(request: Request, exc: Exception) -> Response:
    return render(request, "message.html", status_code=403, message="The form expired; reload the page.")


def answer_refusals(app: FastAPI) -> None:
    """Map the pages' refusals to their answers: sign-in redirect, 401 fragment, 403 form."""
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(FormExpired, _form_expired)
