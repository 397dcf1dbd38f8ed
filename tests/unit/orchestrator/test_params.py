"""Change params checked per change type at plan time (issue 14, item 3): what each flow
reads, in the syntax its consumers (the Kubernetes API, the rke2 config, the inventory, a
script argument over SSH) expect, and nothing else."""
from __future__ import annotations

import pytest

from autorke_orchestrator.domain.flow import ClusterView, MachineView
from autorke_orchestrator.domain.flows import TYPES
from autorke_orchestrator.domain.params import PARAMS, InvalidParams, validated
from autorke_orchestrator.domain.planning import ChangeRequest, context, plan, resolve_flow


def refused(change_type: str, params: dict) -> InvalidParams:
    with pytest.raises(InvalidParams) as e:
        validated(change_type, params)
    assert e.value.slug == "invalid-params"
    return e.value


def fields(exc: InvalidParams) -> list[str]:
    return [e["field"] for e in exc.errors]


def test_every_change_type_has_a_params_model():
    assert sorted(PARAMS) == TYPES


def test_shell_in_a_label_value_is_refused():
    exc = refused("node.update", {"labels": {"team": "$(reboot); `id`"}})
    assert exc.field == "params.labels.team" and "$(reboot)" in exc.errors[0]["message"]


def test_a_label_list_instead_of_a_map_is_refused():
    assert refused("node.update", {"labels": ["team=a"]}).field == "params.labels"
    assert refused("node.add", {"labels": "team=a"}).field == "params.labels"


def test_a_label_value_that_is_not_a_string_is_refused():
    # node.update has no "null removes" semantics: the inventory keeps labels as strings
    assert refused("node.update", {"labels": {"team": None}}).field == "params.labels.team"
    assert refused("node.update", {"labels": {"replicas": 3}}).field == "params.labels.replicas"


def test_a_trailing_newline_is_refused_in_keys_values_and_names():
    assert refused("node.update", {"labels": {"team": "a\n"}}).field == "params.labels.team"
    assert refused("node.update", {"labels": {"team\n": "a"}}).field == "params.labels.team\n"
    assert refused("etcd.snapshot", {"snapshot_name": "s1\n"}).field == "params.snapshot_name"
    assert refused("node.add", {"role": "worker\n"}).field == "params.role"


@pytest.mark.parametrize("key", [
    "", "-team", "team-", "a" * 64, "Example.com/team", "exa_mple.com/team", "/team", "team/",
    "a/b/c", ("a" * 250) + ".com/team", "team with space",
])
def test_label_keys_outside_kubernetes_syntax_are_refused(key: str):
    assert refused("node.add", {"labels": {key: "v"}}).field == f"params.labels.{key}"


@pytest.mark.parametrize("value", ["-a", "a-", "a" * 64, "a b", "a/b", "a;b", "é"])
def test_label_values_outside_kubernetes_syntax_are_refused(value: str):
    assert refused("node.add", {"labels": {"team": value}}).field == "params.labels.team"


@pytest.mark.parametrize("key", [
    "kubernetes.io/hostname", "k8s.io/x", "node-role.kubernetes.io/worker", "topology.kubernetes.io/zone",
    "node.k8s.io/x", "autorke.io/e2e", "network.autorke.io/flat",
])
def test_reserved_label_prefixes_are_refused(key: str):
    exc = refused("node.update", {"labels": {key: "true"}})
    assert exc.field == f"params.labels.{key}" and "reserved" in exc.errors[0]["message"]


def test_a_prefix_that_only_looks_reserved_is_accepted():
    labels = {"notkubernetes.io/x": "a", "kubernetes.io.example.com/x": "b", "myautorke.io/x": "c"}
    assert validated("node.update", {"labels": labels}) == {"labels": labels}


def test_a_taint_without_key_is_refused():
    assert refused("node.update", {"taints": [{"value": "x", "effect": "NoSchedule"}]}).field == \
        "params.taints.0.key"


def test_a_taint_with_a_bad_effect_or_extra_member_is_refused():
    assert refused("node.add", {"taints": [{"key": "gpu", "effect": "Sometimes"}]}).field == \
        "params.taints.0.effect"
    assert refused("node.add", {"taints": [{"key": "gpu", "effect": "NoSchedule", "ttl": 5}]}).field == \
        "params.taints.0.ttl"
    assert refused("node.add", {"taints": [{"key": "gpu", "value": "$(id)"}]}).field == "params.taints.0.value"
    assert refused("node.add", {"taints": {"key": "gpu"}}).field == "params.taints"


def test_unknown_keys_are_refused_for_every_type():
    for change_type in TYPES:
        params = {"snapshot_name": "s1"} if change_type.startswith("etcd.") else {}
        assert "params.surprise" in fields(refused(change_type, {**params, "surprise": 1})), change_type
    # a key another type reads is still unknown here
    assert refused("node.remove", {"labels": {"a": "b"}}).field == "params.labels"
    assert refused("node.update", {"role": "worker"}).field == "params.role"


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "a..b", ".hidden", "-rf", "s;reboot", "$(id)", "a" * 129])
def test_unsafe_snapshot_names_are_refused(name: str):
    assert refused("etcd.restore", {"snapshot_name": name}).field == "params.snapshot_name"


def test_a_snapshot_needs_its_name():
    assert refused("etcd.snapshot", {}).field == "params.snapshot_name"
    assert refused("etcd.restore", {"snapshot_name": None}).field == "params.snapshot_name"


def test_init_profile_is_one_the_executor_knows():
    assert refused("machine.init", {"profile": "gpu; reboot"}).field == "params.profile"
    assert refused("node.add", {"profile": "Base"}).field == "params.profile"
    for profile in ("base", "container-runtime", "gpu"):
        assert validated("machine.init", {"profile": profile}) == {"profile": profile}


def test_roles_are_checked_for_shape_only():
    assert refused("node.add", {"roles": "worker"}).field == "params.roles"
    assert refused("node.add_core", {"roles": ["etcd", 1]}).field == "params.roles.1"
    # which roles a type may add is the flow's guard (P4: role-not-allowed), not the model's
    assert validated("node.add", {"role": "etcd"}) == {"role": "etcd"}


def test_every_offending_field_is_named():
    exc = refused("node.add", {"labels": {"ok": "x", "bad": "$(id)"}, "taints": [{}], "surprise": 1})
    assert sorted(fields(exc)) == ["params.labels.bad", "params.surprise", "params.taints.0.key"]
    assert exc.field == fields(exc)[0] and "params.labels.bad" in str(exc)


def test_valid_params_are_accepted_and_normalised():
    params = {"role": "worker", "profile": "base",
              "labels": {"rack": "r1", "topology.example.com/zone": "z-1", "empty": "", "a.b_c-d": "A.b_c-9"},
              "taints": [{"key": "gpu"}, {"key": "example.com/dedicated", "value": "ml", "effect": "NoExecute"}]}
    assert validated("node.add", params) == {**params, "taints": [
        {"key": "gpu", "value": "", "effect": "NoSchedule"},
        {"key": "example.com/dedicated", "value": "ml", "effect": "NoExecute"}]}
    assert validated("node.add", {}) == {}
    assert validated("node.remove", {}) == {} and validated("machine.cleanup", {}) == {}
    assert validated("node.update", {"taints": [], "remove_taints": ["gpu"]}) == \
        {"taints": [], "remove_taints": ["gpu"]}
    assert validated("etcd.snapshot", {"snapshot_name": "pre-upgrade_2024.01"}) == \
        {"snapshot_name": "pre-upgrade_2024.01"}
    long_key = ".".join(["a" * 63] * 3) + "/" + "n" * 63
    assert validated("node.update", {"labels": {long_key: "v" * 63}})["labels"] == {long_key: "v" * 63}


def test_the_plan_uses_and_stores_the_normalised_params():
    cluster = ClusterView("c1", "rke2", "https://c1:6443", "sealed", "tok", {"e1": ["etcd", "controlplane"]},
                          join_address="https://c1:9345")
    req = ChangeRequest("node.add", "c1", ["n1"], {"role": "worker", "taints": [{"key": "gpu"}]})
    ctx = context(req, cluster, {"n1": MachineView("n1", "n1", state="ready")})
    change = plan(req, resolve_flow(req, cluster), ctx, "alice", {})
    assert change.params["taints"] == [{"key": "gpu", "value": "", "effect": "NoSchedule"}]
    assert "+node-taint: gpu=:NoSchedule" in change.config_diff

    bad = ChangeRequest("node.add", "c1", ["n1"], {"role": "worker", "labels": ["rack=r1"]})
    with pytest.raises(InvalidParams):
        context(bad, cluster, {"n1": MachineView("n1", "n1", state="ready")})
