"""Fuzzed from outside (issue 15, "Must show"): schemathesis generates requests from the
gateway's merged OpenAPI document (``/api/v1/openapi.json`` on the console: every public
operation of every service) and from each service's own ``/openapi.json``, sends them with
an admin token to a platform started for the fuzz, and checks one thing of every answer:
it is not a server error (schemathesis' ``not_a_server_error``: no 5xx anywhere). A
refusal (4xx, problem+json) is a correct answer to a malformed request; a 5xx is a bug to
fix at its cause.

Examples per operation are bounded (``EXAMPLES``, valid and invalid ones: schemathesis'
positive and negative generation), so the whole fuzz stays within a few minutes on a small
machine. Every operation is fuzzed to the end and every server error is reported (the first
request that caused it per operation, as a curl command) rather than shrunk: one run shows
them all. Each test also checks that requests were really sent (a fuzz that sent nothing
would pass silently otherwise).

(The operations are enumerated in the test, not by schemathesis' pytest plugin: the document
exists only once the fixture's platform runs, and the plugin's lazy loading does not work
with the pytest this repository uses.)
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from .conftest import FuzzPlatform

#: Generated examples per operation.
EXAMPLES = 20
#: Every answer comes within this (the gateway's own upstream timeout is 30 s).
ANSWER_WITHIN_S = 30
#: Not a request-response operation: the event stream stays open while the token is valid.
STREAMING = "/api/v1/events"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@dataclass
class Fuzzed:
    operations: int = 0
    sent: int = 0
    #: answers by status class ("2xx", "4xx", ...)
    answers: Counter[str] = field(default_factory=Counter)
    #: "METHOD path" -> what the first server error there was, and how to send it again
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return "\n".join(f"{op}: {what}" for op, what in sorted(self.errors.items()))


def fuzz(url: str, headers: dict[str, str]) -> Fuzzed:
    schema = schemathesis.openapi.from_url(url, headers=headers, wait_for_schema=60).exclude(path=STREAMING)
    done = Fuzzed()
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):
            done.errors[f"schema {url}"] = f"unusable operation: {result.err()}"
            continue
        done.operations += 1
        _fuzz_operation(result.ok(), headers, done)
    return done


def _fuzz_operation(operation, headers: dict[str, str], done: Fuzzed) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @FUZZ
    @given(case=cases)
    def send(case) -> None:
        try:
            response = case.call(headers=headers, timeout=ANSWER_WITHIN_S)
        except requests.Timeout:  # no answer is no better than a 5xx
            done.errors.setdefault(name, f"no answer within {ANSWER_WITHIN_S} s\n    "
                                         f"{case.as_curl_command(headers=headers)}")
            return
        done.sent += 1
        done.answers[f"{response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:
            done.errors.setdefault(name, f"{response.status_code} {response.text[:300]!r}\n    "
                                         f"{case.as_curl_command(headers=headers)}")
    send()


@pytest.fixture(scope="package")
def admin_headers(fuzz_platform: FuzzPlatform) -> dict[str, str]:
    return {"Authorization": f"Bearer {fuzz_platform.token('admin')}"}


def _check(done: Fuzzed, least_operations: int) -> None:
    print(f"fuzz: {done.operations} operations, {done.sent} requests ({dict(done.answers)}), "
          f"{len(done.errors)} operations with a server error")
    assert done.operations >= least_operations and done.sent >= done.operations, done
    assert done.answers["2xx"] > 0, f"nothing was accepted: is the admin token refused? {done}"
    assert not done.errors, f"server errors on {len(done.errors)} of {done.operations} operations:\n{done.summary()}"


def test_fuzz_gateway_answers_no_5xx(fuzz_platform: FuzzPlatform, admin_headers):
    _check(fuzz(f"{fuzz_platform.url('console')}/api/v1/openapi.json", admin_headers), least_operations=40)


@pytest.mark.parametrize("service", ["inventory", "orchestrator", "executor", "netcfg"])
def test_fuzz_service_answers_no_5xx(service: str, fuzz_platform: FuzzPlatform, admin_headers):
    _check(fuzz(f"{fuzz_platform.url(service)}/openapi.json", admin_headers), least_operations=3)
