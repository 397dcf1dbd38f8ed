"""VCalico, the network team's ticket system stand-in, as netcfg will meet it: a real
child process on a free port, answering tickets with signed callbacks to a real webhook."""
from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from autorke_lab.vcalico import BadSignature, VCalicoServer, verify

SECRET = "lab-shared-secret"

TICKET = {
    "cluster": "c1",
    "nodes": [
        {"name": "m001", "ip": "10.20.1.11", "rack": "r1"},
        {"name": "m002", "ip": "10.20.1.12", "rack": "r1"},
        {"name": "m003", "ip": "10.20.2.11", "rack": "r2"},
    ],
    "route_reflectors": ["m001"],
    "as_numbers": {"r1": 65001},
    "pools": [{"cidr": "10.244.0.0/16", "block_size": 26}],
}


class Webhook:
    """A real HTTP receiver recording each callback's headers and raw body."""

    def __init__(self) -> None:
        self.received: queue.Queue = queue.Queue()
        self.statuses: list[int] = []  # answers to give, in order; then 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.put((dict(self.headers), body))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def next(self, timeout: float = 5.0) -> tuple[dict, bytes]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def vcalico(webhook, tmp_path_factory):
    server = VCalicoServer(
        SECRET,
        webhook_url=webhook.url,
        delay_s=0.1,
        backoff_s=0.1,
        log_path=tmp_path_factory.mktemp("vcalico") / "vcalico.log",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def normal_mode(vcalico, webhook):
    vcalico.configure(mode="normal", delay_s=0.1)
    yield
    while not webhook.received.empty():
        webhook.received.get_nowait()


def submit(vcalico, key: str | None = None, body: dict = TICKET) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return httpx.post(f"{vcalico.url}/api/v1/tickets", json=body, headers=headers, timeout=5)


def test_callback_verifies_with_the_shared_secret_and_fails_with_another(vcalico, webhook):
    r = submit(vcalico)
    assert r.status_code == 202
    ticket_id = r.json()["id"]

    headers, body = webhook.next()
    verify(SECRET, headers, body)
    with pytest.raises(BadSignature):
        verify("another-secret", headers, body)
    with pytest.raises(BadSignature):
        verify(SECRET, headers, body.replace(b"approved", b"rejected"))

    callback = json.loads(body)
    assert callback["ticket_id"] == ticket_id and callback["result"] == "approved"
    peers = {p["rack"]: p for p in callback["answer"]["bgp_peers"]}
    assert peers["r1"]["peer_ip"] == "10.20.1.254" and peers["r1"]["as_number"] == 65001
    assert peers["r2"]["peer_ip"] == "10.20.2.254" and peers["r2"]["nodes"] == ["m003"]
    assert callback["answer"]["accepted_pools"] == [{"cidr": "10.244.0.0/16", "block_size": 26}]
    assert callback["answer"]["route_reflectors"][0]["node"] == "m001"

    status = httpx.get(f"{vcalico.url}/api/v1/tickets/{ticket_id}").json()
    assert status["status"] == "answered" and status["result"] == "approved"


def test_idempotency_key_returns_the_same_ticket(vcalico, webhook):
    first = submit(vcalico, key="flatten-c1-1")
    again = submit(vcalico, key="flatten-c1-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    other = dict(TICKET, cluster="c2")
    assert submit(vcalico, key="flatten-c1-1", body=other).status_code == 409
    webhook.next()  # one ticket, one callback
    with pytest.raises(queue.Empty):
        webhook.next(timeout=0.5)


@pytest.mark.parametrize("mode,result", [("reject", "rejected"), ("fail", "failed")])
def test_reject_and_fail_modes_answer_as_set(vcalico, webhook, mode, result):
    vcalico.configure(mode=mode)
    submit(vcalico)
    headers, body = webhook.next()
    verify(SECRET, headers, body)
    callback = json.loads(body)
    assert callback["result"] == result and callback["answer"] is None and callback["reason"]


def test_duplicate_mode_delivers_the_same_event_twice(vcalico, webhook):
    vcalico.configure(mode="duplicate")
    submit(vcalico)
    (h1, b1), (h2, b2) = webhook.next(), webhook.next()
    verify(SECRET, h1, b1)
    verify(SECRET, h2, b2)
    assert json.loads(b1)["event_id"] == json.loads(b2)["event_id"]
    assert h1["X-VCalico-Delivery"] != h2["X-VCalico-Delivery"]


def test_silent_mode_never_calls_back(vcalico, webhook):
    vcalico.configure(mode="silent")
    ticket_id = submit(vcalico).json()["id"]
    with pytest.raises(queue.Empty):
        webhook.next(timeout=1.0)
    assert httpx.get(f"{vcalico.url}/api/v1/tickets/{ticket_id}").json()["status"] == "submitted"


def test_down_mode_refuses_submissions(vcalico, webhook):
    vcalico.configure(mode="down")
    r = submit(vcalico)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert httpx.get(f"{vcalico.url}/healthz").status_code == 200


def test_a_refused_callback_is_retried(vcalico, webhook):
    webhook.statuses = [500]
    ticket_id = submit(vcalico).json()["id"]
    _, first = webhook.next()
    _, second = webhook.next()
    assert first == second
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        deliveries = httpx.get(f"{vcalico.url}/api/v1/tickets/{ticket_id}").json()["deliveries"]
        if len(deliveries) == 2:
            break
        time.sleep(0.05)
    assert [d.get("status_code") for d in deliveries] == [500, 200]
