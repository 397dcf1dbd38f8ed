"""What of an event each caller sees on the live stream: an admin everything; anyone else
no sealed secret and no dead letter's payload; script output only operators."""
from __future__ import annotations

from autorke_common.auth import Principal
from autorke_console.domain.event_view import visible_event


def _may(*roles: str):
    return Principal(subject="u", roles=frozenset(roles)).has


VIEWER, OPERATOR = _may("viewer"), _may("viewer", "operator")
APPROVER, ADMIN = _may("viewer", "approver"), _may("admin")

DEAD_LETTER = {"id": "dlq-1", "type": "bus.message.dead_lettered", "data": {
    "consumer": "executor", "stream": "AUTORKE_COMMANDS", "subject": "autorke.cmd.executor.run",
    "message_id": "m-1", "deliveries": 1, "error": "permanent: unsafe-kubeconfig",
    "payload": '{"data": {"secrets": {"kubeconfig": "gAAAAAB..."}}}'}}
OUTPUT = {"id": "e-1", "type": "executor.target.output",
          "data": {"job_id": "j", "seq": 1, "lines": [{"host": "m001", "stream": "stdout", "line": "token=s3cret"}]}}
FINISHED = {"id": "e-2", "type": "executor.target.finished", "data": {
    "job_id": "j", "host": "rke", "status": "succeeded", "duration_s": 1.0, "output": "INFO up",
    "result": {"rkestate": "gAAAAAB-state", "kubeconfig": "gAAAAAB-kube", "nodes": ["m001"]}}}
REGISTERED = {"id": "e-3", "type": "inventory.cluster.registered", "data": {
    "name": "c1", "kubeconfig_sealed": "gAAAAAB-kc", "join_token_sealed": None,
    "config": {"content_sealed": "gAAAAAB-yml", "version": 2}}}
FACTS = {"id": "e-4", "type": "inventory.machine.facts_updated", "data": {"machine_id": "m001", "cpu": 8}}


def test_m7_a_dead_letter_payload_is_for_admins_only():
    seen = visible_event(DEAD_LETTER, OPERATOR)
    assert "payload" not in seen["data"] and seen["redacted"] == ["payload"]
    assert seen["data"]["error"] == "permanent: unsafe-kubeconfig" and seen["data"]["subject"]
    assert visible_event(DEAD_LETTER, ADMIN) is DEAD_LETTER
    assert "payload" in DEAD_LETTER["data"], "the feed's own copy is never changed"


def test_m7_script_output_is_for_operators_and_admins():
    for may in (VIEWER, APPROVER):
        assert "lines" not in visible_event(OUTPUT, may)["data"]
        assert "output" not in visible_event(FINISHED, may)["data"]
    assert visible_event(OUTPUT, OPERATOR) is OUTPUT
    assert visible_event(FINISHED, OPERATOR)["data"]["output"] == "INFO up"
    assert visible_event(FINISHED, ADMIN) is FINISHED


def test_m7_sealed_secrets_never_reach_anyone_but_an_admin():
    for may in (VIEWER, OPERATOR, APPROVER):
        seen = visible_event(FINISHED, may)
        assert seen["data"]["result"] == {"nodes": ["m001"]}
        registered = visible_event(REGISTERED, may)
        assert registered["data"] == {"name": "c1", "config": {"version": 2}}
        assert set(registered["redacted"]) == {"kubeconfig_sealed", "join_token_sealed", "config.content_sealed"}
    assert FINISHED["data"]["result"]["rkestate"] == "gAAAAAB-state"
    assert visible_event(REGISTERED, ADMIN) is REGISTERED


def test_what_a_viewer_reads_through_the_api_stays_in_the_event():
    assert visible_event(FACTS, VIEWER) is FACTS
