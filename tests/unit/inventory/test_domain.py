"""The inventory's rules without I/O: cluster.yml validation (P3), the lifecycle, node
matching, sync decisions and secret redaction."""
from __future__ import annotations

import json

import pytest
import yaml

from autorke_common.errors import Conflict, Invalid, problem_of
from autorke_inventory.domain import clusterconfig, redaction
from autorke_inventory.domain.lifecycle import check_transition, path
from autorke_inventory.domain.matching import ObservedNode, match_nodes
from autorke_inventory.domain.records import SourceRecord
from autorke_inventory.domain.sync import Known, plan_page


def yml(*roles, addresses=None) -> str:
    addresses = addresses or [f"10.0.0.{i}" for i in range(1, len(roles) + 1)]
    return yaml.safe_dump({"nodes": [{"address": a, "user": "root", "role": list(r)}
                                     for a, r in zip(addresses, roles, strict=True)]})


@pytest.mark.parametrize("text,rule,words", [
    (yml(["etcd", "master"]), "unknown-role", "role 'master' is unknown"),
    (yml(["etcd"], ["worker"], addresses=["10.0.0.1", "10.0.0.1"]), "duplicate-address",
     "address 10.0.0.1 is already used by node 1"),
    (yml(["etcd"], []), "node-without-role", "node 2 (10.0.0.2) has no role"),
    (yml(["etcd"], ["etcd", "worker"]), "even-etcd", "2 etcd nodes, an even number"),
    (yml(["controlplane"], ["worker"]), "no-etcd", "has no etcd node"),
])
def test_p3_invalid_cluster_yml_is_refused_with_its_own_error(text, rule, words):
    with pytest.raises(Invalid) as caught:
        clusterconfig.validate(text)
    p = caught.value
    assert p.slug == "invalid-cluster-config"
    assert p.extensions["rule"] == rule and words in p.detail


def test_p3_each_refusal_has_a_distinct_message():
    texts = [yml(["etcd", "master"]), yml(["etcd"], ["worker"], addresses=["a", "a"]),
             yml(["etcd"], []), yml(["etcd"], ["etcd"]), yml(["worker"])]
    messages = set()
    for text in texts:
        with pytest.raises(Invalid) as caught:
            clusterconfig.validate(text)
        messages.add(caught.value.detail)
    assert len(messages) == len(texts)


def test_rendered_cluster_yml_validates_and_is_stable():
    nodes = [clusterconfig.NodeSpec("n2", "10.0.0.2", 22, "root", ["worker"]),
             clusterconfig.NodeSpec("n1", "10.0.0.1", 2222, "root", ["etcd", "controlplane"],
                                    labels={"a": "b"}, taints=[{"key": "k", "value": "",
                                                                "effect": "NoSchedule"}])]
    spec = clusterconfig.ClusterSpec("c1", "10.42.0.0/16", "10.43.0.0/16",
                                     options={"ssh_key_path": "/k"})
    text = clusterconfig.render(spec, nodes)
    doc = clusterconfig.validate(text)
    assert [n["hostname_override"] for n in doc["nodes"]] == ["n1", "n2"]
    assert doc["services"]["kube-controller"]["cluster_cidr"] == "10.42.0.0/16"
    assert doc["ssh_key_path"] == "/k"
    assert clusterconfig.render(spec, list(reversed(nodes))) == text


def test_illegal_transitions_are_refused_as_a_conflict():
    check_transition("m", "available", "initializing", is_member=False)
    for current, target, member in [("available", "member", False), ("member", "available", True),
                                    ("ready", "member", False), ("retired", "member", False)]:
        with pytest.raises(Conflict) as caught:
            check_transition("m", current, target, is_member=member)
        assert caught.value.slug == "illegal-state-transition"
        assert problem_of(caught.value).status == 409  # at the REST edge


def test_a_changes_newer_mark_may_skip_along_a_legal_path_only():
    assert path("draining", "cleaning") == ["removing", "cleaning"]
    assert len(path("initializing", "joining")) == 2
    assert path("member", "retired") is not None and "faulty" not in path("member", "retired")[:-1]
    check_transition("m", "draining", "cleaning", is_member=False, skipping=True)
    with pytest.raises(Conflict):  # one edge only, unless skipping
        check_transition("m", "draining", "cleaning", is_member=False)
    with pytest.raises(Conflict):  # the target's membership rule still holds
        check_transition("m", "draining", "cleaning", is_member=True, skipping=True)


def test_nodes_are_matched_by_ip_and_hostname_and_strangers_reported():
    nodes = [ObservedNode("m1", ["10.0.0.1"], ["worker"]),
             ObservedNode("other-name", ["10.0.0.2"], ["worker"]),
             ObservedNode("m3", ["10.9.9.9"], ["worker"]),
             ObservedNode("m1", ["10.0.0.4"], ["worker"]),
             ObservedNode("ghost", ["10.1.1.1"], ["worker"])]
    by_ip = {"10.0.0.1": "id1", "10.0.0.2": "id2", "10.0.0.4": "id4"}
    by_host = {"m1": "id1", "m3": "id3"}
    result = match_nodes(nodes, by_ip, by_host)
    assert [(m.node.name, m.machine, m.by) for m in result.matched] == [
        ("m1", "id1", "ip+hostname"), ("other-name", "id2", "ip"), ("m3", "id3", "hostname")]
    assert [u.node.addresses[0] for u in result.unmatched] == ["10.0.0.4", "10.1.1.1"]


def rec(i: str, host: str, ip: str, retired=False, rack="r1") -> SourceRecord:
    return SourceRecord(i, host, ip, retired, rack=rack)


def test_p1_sync_never_moves_a_members_ip_silently():
    old = rec("a", "h", "10.0.0.1")
    known = {"a": Known("a", "h", "10.0.0.1", "member", "c1", old.fingerprint),
             "b": Known("b", "hb", "10.0.0.2", "available", None, "x")}
    plan = plan_page(known, [rec("a", "h", "10.0.0.9", rack="r2"),
                             rec("b", "hb", "10.0.0.3", retired=True), rec("c", "hc", "10.0.0.4"),
                             old.__class__("z", "hz", None, False)])
    assert [(c.machine, c.field, c.incoming) for c in plan.conflicts] == [("a", "ip", "10.0.0.9")]
    assert [(k.id, f) for k, _, f in plan.update] == [("a", ["cmdb"])]
    assert [k.id for k, _ in plan.retire] == ["b"]
    assert [r.id for r in plan.add] == ["c", "z"]
    again = plan_page({"a": Known("a", "h", "10.0.0.1", "member", "c1", old.fingerprint)}, [old])
    assert again.unchanged == 1 and not again.update


def test_l5_a_record_taking_another_machines_hostname_is_skipped_and_the_page_goes_on():
    known = {"a": Known("a", "ha", "10.0.0.1", "available", None, "x"),
             "b": Known("b", "hb", "10.0.0.2", "available", None, "y")}
    plan = plan_page(known, [rec("new", "ha", "10.0.0.7"),       # a's hostname: a CMDB duplicate
                             rec("c", "hc", "10.0.0.3"), rec("d", "hc", "10.0.0.4"),  # twice in the page
                             rec("hb", "hz", "10.0.0.5"),         # its id is b's hostname
                             rec("b", "hb", "10.0.0.9")],         # a fine update
                     hostnames={"ha": "a", "hb": "b"})
    assert sorted((c.machine, c.field) for c in plan.conflicts) == [("d", "hostname"), ("hb", "id"),
                                                                     ("new", "hostname")]
    assert [r.id for r in plan.add] == ["c"] and [k.id for k, _, _ in plan.update] == ["b"]
    held = next(c for c in plan.conflicts if c.machine == "new")
    assert "held by a" in held.incoming and held.cluster is None


def test_l5_a_machine_renamed_frees_its_old_hostname_within_the_page():
    known = {"a": Known("a", "ha", "10.0.0.1", "available", None, "x")}
    plan = plan_page(known, [rec("a", "ha2", "10.0.0.1"), rec("n", "ha", "10.0.0.8")], hostnames={"ha": "a"})
    assert plan.conflicts == [] and [r.id for r in plan.add] == ["n"]


def test_redaction_masks_every_secret_value_and_diff_stays_redacted():
    state = {"currentState": {"certificatesBundle": {"kube-ca": {
        "name": "kube-ca", "keyPEM": "SECRET-KEY-1", "certificatePEM": "CERT"}}}}
    newer = json.loads(json.dumps(state))
    newer["currentState"]["certificatesBundle"]["kube-ca"]["keyPEM"] = "SECRET-KEY-2"
    text = redaction.redact("cluster.rkestate", json.dumps(state))
    assert "SECRET" not in text and "kube-ca" in text
    diff = redaction.diff("cluster.rkestate", json.dumps(state), json.dumps(newer), "a", "b")
    assert "keyPEM" in diff and "SECRET" not in diff
    assert "SECRET" not in redaction.redact("cluster.rkestate", "not json SECRET")
    yml_text = yaml.safe_dump({"nodes": [{"address": "a", "ssh_key": "PRIVATE"}]})
    assert "PRIVATE" not in redaction.redact("cluster.yml", yml_text)
