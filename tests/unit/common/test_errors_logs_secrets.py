"""Problems carry a stable type; logs never carry secrets; sealed secrets open only with
the platform key (and still open after a key rotation)."""
from __future__ import annotations

import json
import logging

import pytest

from autorke_common.errors import PermanentError, Problem
from autorke_common.logs import JsonFormatter, redact
from autorke_common.secrets import SecretBox
from fixtures.secret_keys import secret_key


def test_problem_body_is_rfc9457_with_stable_type():
    p = Problem("machine-in-other-cluster", "Machine in another cluster", 409,
                "m001 is a member of c2", machine="m001")
    body = p.to_dict(instance="/api/v1/changes")
    assert body == {"type": "https://autorke.dev/problems/machine-in-other-cluster",
                    "title": "Machine in another cluster", "status": 409,
                    "detail": "m001 is a member of c2", "instance": "/api/v1/changes",
                    "machine": "m001"}


def test_redact_masks_secret_looking_keys_at_any_depth():
    out = redact({"cluster": "c1", "kubeconfig": "apiVersion: v1", "nested": {"token": "abc"},
                  "rkestate_sealed": "gAAA"})
    assert out == {"cluster": "c1", "kubeconfig": "***", "nested": {"token": "***"},
                   "rkestate_sealed": "***"}


def test_json_log_lines_redact_extra_fields():
    record = logging.makeLogRecord({"msg": "stored config", "levelname": "INFO",
                                    "rkestate": "-----BEGIN RSA PRIVATE KEY-----", "cluster": "c1"})
    line = json.loads(JsonFormatter("inventory").format(record))
    assert line["rkestate"] == "***" and line["cluster"] == "c1" and line["service"] == "inventory"


def test_secret_box_round_trip_rotation_and_wrong_key():
    old_key, new_key, other_key = secret_key("old"), secret_key("new"), secret_key("other")
    old = SecretBox(old_key)
    sealed = old.seal("kubeconfig-content")
    assert "kubeconfig-content" not in sealed
    rotated = SecretBox(f"{new_key},{old_key}")
    assert rotated.open(sealed) == "kubeconfig-content"
    assert SecretBox(new_key).open(rotated.seal("x")) == "x"
    with pytest.raises(PermanentError):
        SecretBox(other_key).open(sealed)
