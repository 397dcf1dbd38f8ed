"""Operator YAML is read without anchors or aliases (no billion laughs) and without
unbounded nesting; everything else reads as ``yaml.safe_load`` reads it."""
from __future__ import annotations

import time

import pytest
import yaml

from autorke_common import untrusted_yaml

LAUGHS = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)])


def test_plain_documents_read_as_safe_load_reads_them():
    text = "cluster_name: c1\nnodes:\n- {address: 10.0.0.1, role: [etcd, worker]}\nservices: {}\nempty:\n"
    assert untrusted_yaml.load(text) == yaml.safe_load(text)
    assert untrusted_yaml.load("") is None
    assert untrusted_yaml.load("<<: {a: 1}\nb: 2") == yaml.safe_load("<<: {a: 1}\nb: 2")


@pytest.mark.parametrize("text", [
    LAUGHS,
    "base: &base {user: root}\nnode: *base",
    "node: *undefined",
    "nodes: [&n1 {address: 10.0.0.1}]",
    "a: !!str &x text",
])
def test_yaml_aliases_are_refused(text):
    started = time.monotonic()
    with pytest.raises(untrusted_yaml.UnsafeYaml) as caught:
        untrusted_yaml.load(text)
    assert isinstance(caught.value, yaml.YAMLError)        # callers' handling of bad YAML covers it
    assert "not accepted" in str(caught.value) and "line" in str(caught.value)
    assert time.monotonic() - started < 1.0


def test_nesting_is_bounded_not_a_recursion_error():
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(untrusted_yaml.UnsafeYaml, match="deeper than"):
        untrusted_yaml.load(deep)
    fine = "[" * untrusted_yaml.MAX_DEPTH + "]" * untrusted_yaml.MAX_DEPTH
    assert untrusted_yaml.load(fine) is not None
