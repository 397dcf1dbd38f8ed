"""Real HTTP servers for console tests: an app under uvicorn in a thread on a free port
(stopped by the test that started it), and the console itself, signed in through the
lab identity provider the way a browser does it."""
from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx
import uvicorn

from autorke_lab.machines.addresses import free_port


@dataclass
class RunningServer:
    url: str
    app: object
    server: uvicorn.Server


@contextmanager
def serve_app(app, port: int | None = None) -> Iterator[RunningServer]:
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def browser_sign_in(console_url: str, user: str) -> Iterator[httpx.Client]:
    """An httpx client holding a console session for ``user``: the authorization code flow
    through the lab IdP's login page, redirect by redirect, as a browser follows it."""
    with httpx.Client(base_url=console_url, timeout=15, follow_redirects=False) as client:
        _sign_in(client, console_url, user)
        yield client


def _sign_in(client: httpx.Client, console_url: str, user: str) -> None:
    r = client.get("/auth/login", params={"next": "/api/v1/me"})
    assert r.status_code == 302, r.text
    authorize = r.headers["location"]
    page = httpx.get(authorize, timeout=10)
    assert page.status_code == 200 and f'value="{user}"' in page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = httpx.post(urljoin(authorize, action), data={"username": user}, timeout=10)
    assert r.status_code == 302, r.text
    callback = r.headers["location"]
    assert callback.startswith(console_url + "/auth/callback")
    r = client.get(callback)
    assert r.status_code == 303, r.text
