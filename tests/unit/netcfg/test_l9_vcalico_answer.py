"""L9: a VCalico answer that accepts a ticket but names no usable id is a refusal
(``VCalicoRefused``, not retried), and the ticket ends ``failed`` with the reason, never a
KeyError that dead-letters the command and leaves the ticket ``approved``. The client
talks to a real HTTP server answering exactly these bodies."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autorke_common.catalogue.netcfg import SubmitTicket
from autorke_netcfg.adapters.orm import TicketRow
from autorke_netcfg.adapters.vcalico import VCalicoClient, VCalicoRefused
from autorke_netcfg.domain import ticket_rules
from autorke_netcfg.service_layer import submission

from .fakes import FakeClusters, FakeUnitOfWork, ports
from .test_handlers import CLUSTER, PLAN


class Answers:
    def __init__(self) -> None:
        self.status, self.body, self.calls = 201, b"{}", 0


@pytest.fixture(scope="module")
def vcalico() -> Iterator[tuple[str, Answers]]:
    answers = Answers()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            answers.calls += 1
            self.send_response(answers.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answers.body)))
            self.end_headers()
            self.wfile.write(answers.body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()


NO_ID = [b"{}", b'{"id": null}', b'{"id": 42}', b'{"id": ""}', b'{"id": "VC-1\\nX-Injected: 1"}',
         b'["VC-1"]', b"not json", b'{"ticket": "VC-1"}']


@pytest.mark.parametrize("body", NO_ID)
def test_l9_an_answer_without_a_usable_id_is_a_refusal_not_retried(vcalico, body):
    url, answers = vcalico
    answers.body, answers.calls = body, 0
    with pytest.raises(VCalicoRefused) as refused:
        VCalicoClient(url, attempts=3, backoff_s=0.01).submit({"cluster": "c1"}, idempotency_key="nt-1")
    assert refused.value.attempts == 1 and answers.calls == 1
    assert "id" in str(refused.value) or "JSON" in str(refused.value)


def test_l9_an_answer_with_an_id_is_a_submission(vcalico):
    url, answers = vcalico
    answers.body = json.dumps({"id": "VC-0a1b2c3d4e5f"}).encode()
    assert VCalicoClient(url).submit({}, idempotency_key="nt-1").vcalico_ticket_id == "VC-0a1b2c3d4e5f"


def test_l9_the_ticket_ends_failed_with_the_reason(vcalico):
    url, answers = vcalico
    answers.body = b'{"status": "accepted"}'
    uow = FakeUnitOfWork()
    uow.seed(CLUSTER)
    uow.seed(TicketRow(id="nt-1", cluster="c1", status=ticket_rules.APPROVED, requested_by="otto",
                       approved_by="anna", plan=PLAN, correlation_id="nt-1"))
    wired = replace(ports(uow, FakeClusters(), None), vcalico=VCalicoClient(url, attempts=2, backoff_s=0.01))
    assert submission.submit(SubmitTicket(ticket_id="nt-1"), wired) == ticket_rules.FAILED
    ticket = uow.row("tickets", "nt-1")
    assert ticket.status == ticket_rules.FAILED and ticket.failure_reason == "vcalico-refused"
    assert ticket.vcalico_ticket_id is None and ticket.submit_attempts == 1
    assert "netcfg.ticket.failed" in uow.event_types()
