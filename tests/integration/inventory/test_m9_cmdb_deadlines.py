"""M9: a CMDB that hangs or never stops paging cannot hold the inventory's sync forever.
Against real sockets: a NetBox that accepts the connection and never answers makes the
NetBox adapter fail with a temporary error (the sync is retried later) instead of waiting
for ever; an HTTP CMDB whose cursor never advances while it says ``has_more`` is stopped."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from autorke_common.errors import TemporaryError
from autorke_inventory.adapters.cmdb_http import HttpCmdbSource
from autorke_inventory.adapters.netbox import NetBoxSource
from autorke_lab.machines.addresses import free_port
from autorke_lab.servers import HttpServer


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections, reads the request, answers nothing until the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=10)
    for conn in held:
        conn.close()
    listener.close()


def _first_page_in_thread(source) -> BaseException | None:
    """The first page's outcome, read in a thread so a hang fails the test instead of
    hanging it (a generous bound, far beyond the adapter's own deadline)."""
    outcome: list[BaseException | None] = []

    def read() -> None:
        try:
            next(iter(source.pages(None)))
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert outcome, "the adapter is still waiting on a CMDB that never answers"
    return outcome[0]


def test_m9_a_netbox_that_never_answers_is_a_temporary_error_not_a_hang(silent_server):
    source = NetBoxSource(silent_server, token="t", page_size=10, timeout_s=1.0)
    try:
        error = _first_page_in_thread(source)
    finally:
        source.close()
    assert isinstance(error, TemporaryError), error
    assert "NetBox unreachable" in str(error)


def test_m9_a_cmdb_whose_cursor_never_advances_is_stopped():
    app = FastAPI()
    calls: list[int] = []

    @app.get("/api/v1/hosts/changes")
    def changes(since: int = 0, limit: int = 10) -> dict:
        calls.append(since)
        return {"items": [], "next_since": 5, "has_more": True}

    server = HttpServer(app, "127.0.0.1", free_port())
    server.start()
    source = HttpCmdbSource(server.url, page_size=10, timeout_s=5.0)
    try:
        pages = source.pages(None)
        next(pages)  # 0 -> 5: it advanced
        with pytest.raises(TemporaryError, match="does not advance"):
            next(pages)  # 5 -> 5 with has_more: the same page forever
    finally:
        source.close()
        server.stop()
    assert calls == [0, 5]
