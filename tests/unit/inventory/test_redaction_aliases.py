"""A stored config version with YAML aliases (stored before they were refused) is never
expanded when shown or diffed: it is masked whole, so nothing an alias points at leaks."""
from __future__ import annotations

import time

from autorke_inventory.domain import redaction

LAUGHS = "\n".join(["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)])


def test_yaml_aliases_in_a_stored_version_are_never_expanded():
    started = time.monotonic()
    shown = redaction.redact("cluster.yml", "ssh_key: &k secret-key\nnodes: [{ssh_key: *k}]\n" + LAUGHS)
    assert shown.startswith("<redacted:") and "secret-key" not in shown and "lol" not in shown
    diff = redaction.diff("cluster.yml", LAUGHS, LAUGHS + "\nx: 1", "v1", "v2")
    assert "lol" not in diff and diff.count("<redacted:") == 2
    assert redaction.redact("kubeconfig", "a: &x 1\nb: *x").startswith("<redacted:")
    assert time.monotonic() - started < 1.0
    plain = "cluster_name: c1\nssh_key: secret\n"
    assert "secret" not in redaction.redact("cluster.yml", plain) and "c1" in redaction.redact("cluster.yml", plain)
