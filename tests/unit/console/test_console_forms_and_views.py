"""Forms, API errors placed next to their field, a change's buttons per role and state,
the merged OpenAPI document, and the side-by-side config diff."""
from __future__ import annotations

import pytest

from autorke_console.domain.actions import ACTIONS, FormErrors, change_request, parse_taints
from autorke_console.domain.change_view import ChangeView
from autorke_console.domain.field_errors import field_errors
from autorke_console.domain.i18n import LABELS, label
from autorke_console.domain.openapi import merge
from autorke_console.domain.pool_form import pool_body
from autorke_console.domain.side_by_side import side_by_side

P = "https://autorke.dev/problems/"


def test_p7_pool_overlap_problems_land_next_to_the_cidr_field():
    for slug in ("pool-overlaps-host-network", "pool-overlaps-service-cidr", "pool-overlaps-pool"):
        errors = field_errors({"type": P + slug, "title": "x", "detail": f"{slug} detail", "status": 409})
        assert errors == {"cidr": f"{slug} detail"}
    assert "block_size" in field_errors({"type": P + "invalid-block-size", "detail": "must be 20-32"})


def test_schema_errors_are_placed_by_their_location():
    problem = {"type": P + "invalid-request", "detail": "schema",
               "errors": [{"loc": ["body", "blockSize"], "msg": "not an int"}]}
    assert field_errors(problem) == {"block_size": "not an int", "": "schema"} or \
        field_errors(problem)["block_size"] == "not an int"


def test_an_error_about_no_field_is_a_form_error():
    assert field_errors({"type": P + "machine-locked", "detail": "m001 is locked"}) == {"": "m001 is locked"}


def test_add_to_cluster_defaults_to_a_worker_with_the_default_config():
    body = change_request(ACTIONS["add"], ["m001", "m002"], {"cluster": "lab"}, dry_run=True)
    assert body == {"type": "node.add", "cluster": "lab", "targets": ["m001", "m002"], "dry_run": True,
                    "params": {"role": "worker", "labels": {}, "taints": []}}


def test_form_mistakes_are_reported_per_field_before_anything_is_sent():
    with pytest.raises(FormErrors) as exc:
        change_request(ACTIONS["add"], [], {"labels": "bad", "taints": "k=v:Sometimes", "config": "custom"}, True)
    assert set(exc.value.errors) == {"targets", "cluster", "labels", "taints", "custom_config"}
    assert parse_taints("gpu=true:NoSchedule") == [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]


def test_pool_form_checks_only_syntax_and_leaves_network_rules_to_netcfg():
    body, errors = pool_body({"name": "p1", "cidr": "10.0.0.0/8", "block_size": "26"})
    assert errors == {} and body["name"] == "p1"
    assert body["spec"]["blockSize"] == 26 and body["spec"]["cidr"] == "10.0.0.0/8"
    _, errors = pool_body({"name": "", "cidr": "", "block_size": "x"})
    assert set(errors) == {"name", "cidr", "block_size"}


def _change(status: str, requested_by: str = "operator", **extra) -> dict:
    steps = [{"id": "s1", "name": "check", "kind": "check", "status": "succeeded"},
             {"id": "s2", "name": "approve join", "kind": "approval",
              "status": "awaiting_approval" if status == "awaiting_approval" else "succeeded"}]
    return {"id": "c1", "status": status, "requested_by": requested_by, "plan": {"steps": steps}, **extra}


def test_a_requester_never_gets_an_approve_button_on_their_own_change():
    own = ChangeView(_change("awaiting_approval", "admin"), "admin", {"admin"})
    assert own.own and not own.can_decide
    other = ChangeView(_change("awaiting_approval", "operator"), "approver", {"viewer", "approver"})
    assert other.can_decide and other.waiting_step["id"] == "s2"
    operator = ChangeView(_change("awaiting_approval", "operator2"), "operator", {"operator"})
    assert not operator.can_decide


def test_retry_and_continue_fit_a_partial_failure_and_cancel_ends_with_the_change():
    change = _change("partially_failed", results=[{"host": "m001", "status": "succeeded"},
                                                  {"host": "m002", "status": "failed"}])
    view = ChangeView(change, "operator", {"operator"})
    assert view.can_retry and view.failed_targets == ["m002"] and view.can_continue
    assert view.counts() == {"succeeded": 1, "failed": 1}
    assert not ChangeView(_change("succeeded"), "operator", {"operator"}).can_cancel
    assert ChangeView(_change("running"), "operator", {"operator"}).can_cancel
    assert not ChangeView(_change("running"), "viewer", {"viewer"}).can_cancel
    assert not ChangeView(_change("running", "operator2"), "operator", {"operator"}).can_cancel, \
        "another operator's change: the orchestrator would refuse (requester or approver only)"
    assert ChangeView(_change("running", "operator2"), "lead", {"operator", "approver"}).can_cancel


def test_the_rejection_and_its_reason_are_the_changes_not_buried_in_history():
    approvals = [{"step": "s2", "decision": "reject", "by": "approver", "comment": "wrong rack", "at": "t"}]
    view = ChangeView(_change("cancelled", approvals=approvals), "operator", {"operator"})
    assert view.rejection == {**approvals[0], "step_name": "approve join"}
    assert ChangeView(_change("succeeded", approvals=[{**approvals[0], "decision": "approve"}]),
                      "operator", {"operator"}).rejection is None


def test_merged_openapi_keeps_api_paths_and_renames_clashing_schemas():
    a = {"paths": {"/api/v1/machines": {"get": {"operationId": "list", "responses": {"200": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}},
                   "/healthz": {"get": {"responses": {}}}},
         "components": {"schemas": {"Item": {"type": "object", "title": "machine"}}}}
    b = {"paths": {"/api/v1/changes": {"post": {"operationId": "create", "responses": {"201": {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
         "components": {"schemas": {"Item": {"type": "object", "title": "change"}}}}
    doc = merge({"inventory": a, "orchestrator": b}, unavailable={"netcfg": "ConnectError"})
    assert set(doc["paths"]) == {"/api/v1/machines", "/api/v1/changes"}
    ref = doc["paths"]["/api/v1/changes"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/orchestrator.Item"}
    assert doc["components"]["schemas"]["Item"]["title"] == "machine"
    assert doc["paths"]["/api/v1/machines"]["get"]["tags"] == ["inventory"]
    assert doc["x-autorke-unavailable"] == {"netcfg": "ConnectError"}


def test_side_by_side_aligns_changed_added_and_removed_lines():
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert rows == [("a", "a", "same"), ("b", "B", "changed"), ("c", "c", "same"), ("", "d", "added")]


def test_every_label_has_chinese_and_english_is_the_default():
    assert all(en and zh for en, zh in LABELS.values())
    assert label("machines") == "Machines" and label("machines", "zh") == "机器"
    assert label("no-such-key", "zh") == "no-such-key"


def test_per_target_results_come_from_each_hosts_latest_started_step():
    change = {"status": "partially_failed", "plan": {"steps": [
        {"id": "s1", "name": "preflight", "status": "succeeded",
         "targets": {"m001": {"status": "succeeded"}, "m002": {"status": "succeeded"}}},
        {"id": "s2", "name": "join", "status": "failed",
         "targets": {"m001": {"status": "succeeded"}, "m002": {"status": "failed", "error": "timeout"}}},
        {"id": "s3", "name": "verify", "status": "pending", "targets": {"m001": {"status": "pending"}}}]}}
    view = ChangeView(change, "operator", {"operator"})
    rows = {r["host"]: r for r in view.results}
    assert rows["m001"]["step"] == "join" and rows["m002"]["error"] == "timeout"
    assert view.failed_targets == ["m002"] and view.can_retry


def test_pseudo_targets_are_not_counted_as_hosts_but_a_failed_one_can_still_be_retried():
    """An RKE1 add's ``rke`` and ``config`` targets, a flat network's ``ticket``: the timeline's
    business, not hosts (console review: "succeeded 3" for one machine)."""
    change = {"status": "partially_failed", "targets": ["m024"], "plan": {
        "blast_radius": {"hosts": ["m024", "m001"]}, "steps": [
            {"id": "rke_up", "name": "rke up", "status": "succeeded", "targets": {"rke": {"status": "succeeded"}}},
            {"id": "state", "name": "state", "status": "succeeded", "targets": {"config": {"status": "succeeded"}}},
            {"id": "join", "name": "join", "status": "succeeded", "targets": {"m024": {"status": "succeeded"}}},
            {"id": "net_submit", "name": "submit", "status": "partially_failed",
             "targets": {"ticket": {"status": "failed", "error": "vcalico-rejected"}}}]}}
    view = ChangeView(change, "operator", {"operator"})
    assert [r["host"] for r in view.host_results] == ["m024"] and view.counts() == {"succeeded": 1}
    assert view.failed_targets == ["ticket"] and view.can_retry


def test_facet_summaries_pick_the_fields_an_operator_scans_for():
    from autorke_console.domain.facets import summary

    m = {"hardware": {"cpu": {"model": "EPYC", "cores": 128}, "memory_gb": 512,
                      "gpu": {"model": "Tesla T4", "count": 8}},
         "software": {"os": "Ubuntu", "os_version": "22.04", "kernel": "5.15"},
         "kubernetes": {"roles": [], "node_condition": None}, "network": {"rack": "R1", "site": "SH"}}
    assert summary(m) == {"hardware": "128 cores · 512 GB · 8× Tesla T4", "software": "Ubuntu 22.04 · 5.15",
                          "kubernetes": "—", "network": "rack R1 · SH"}


def test_only_an_admin_gets_force_cancel_and_only_while_the_change_is_open():
    assert ChangeView(_change("running", open=True), "admin", {"admin"}).can_force_cancel
    assert ChangeView(_change("failed", open=True), "admin", {"admin"}).can_force_cancel
    assert not ChangeView(_change("running", open=True), "operator", {"operator", "approver"}).can_force_cancel
    assert not ChangeView(_change("cancelled", open=False), "admin", {"admin"}).can_force_cancel


def test_a_node_add_names_a_profile_or_gives_a_custom_one_as_yaml_and_the_pool_cidr():
    add = ACTIONS["add"]
    form = {"cluster": "rke2-lab", "role": "worker", "config": "default", "node_profile": "gpu",
            "network_cidr": " 10.240.0.0/24 "}
    params = change_request(add, ["m1"], form, dry_run=True)["params"]
    assert params["node_profile"] == "gpu" and params["network"] == {"cidr": "10.240.0.0/24"}
    custom = {**form, "config": "custom", "custom_config": "labels: {example.com/team: ml}\nkubelet: {max_pods: 200}"}
    params = change_request(add, ["m1"], custom, dry_run=True)["params"]
    assert params["custom_profile"] == {"labels": {"example.com/team": "ml"}, "kubelet": {"max_pods": 200}}
    assert "node_profile" not in params
    for text, why in (("", "paste"), ("- a\n- b", "mapping"), ("a: &x 1\nb: *x", "YAML")):
        with pytest.raises(FormErrors) as refused:
            change_request(add, ["m1"], {**custom, "custom_config": text}, dry_run=True)
        assert why in refused.value.errors["custom_config"], refused.value.errors


def test_the_ticket_panel_reads_the_plan_and_vcalicos_answer_from_the_steps():
    answer = {"bgp_peers": [{"rack": "R1", "peer_ip": "10.0.0.254", "as_number": 65001, "nodes": ["m1"]}]}
    view = ChangeView({"status": "awaiting_approval", "plan": {"steps": [
        {"id": "net_plan", "status": "succeeded", "targets": {"ticket": {
            "status": "succeeded", "result": {"ticket_id": "nt-1-1", "plan": {"nodes": [{"name": "m1"}]}}}}},
        {"id": "net_submit", "status": "succeeded", "targets": {"ticket": {
            "status": "succeeded", "result": {"ticket_id": "nt-1-1", "answer": answer}}}}]}}, {"viewer"}, "u")
    assert view.ticket == {"id": "nt-1-1", "plan": {"nodes": [{"name": "m1"}]}, "answer": answer}
    assert ChangeView({"status": "running", "plan": {"steps": []}}, {"viewer"}, "u").ticket is None


def test_the_waiting_notice_reads_as_a_sentence_at_a_gate_and_as_given_otherwise():
    gate = {"waiting_for": "approval of step approve (approve adding the nodes) by a user with role 'approver' "
                           "other than https://idp#operator"}
    assert ChangeView(gate, "x", set()).waiting_notice == {"step": "approve adding the nodes", "role": "approver",
                                                           "not": "https://idp#operator"}
    lock = {"waiting_for": "config lock of cluster c1 (another change writes it)"}
    assert ChangeView(lock, "x", set()).waiting_notice == {"text": lock["waiting_for"]}
    assert ChangeView({}, "x", set()).waiting_notice is None
