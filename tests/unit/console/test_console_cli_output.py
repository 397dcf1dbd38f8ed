"""What the CLI prints: tables, the plan with its blast radius, and watch's progress."""
from __future__ import annotations

from autorke_console.entrypoints.cli_output import bar, plan_text, progress_text, table


def test_table_aligns_columns_and_reads_nested_fields():
    text = table([{"id": "m001", "network": {"rack": "r1"}}, {"id": "m010", "network": {}}], ["id", "network.rack"])
    assert text.splitlines() == ["ID    NETWORK.RACK", "m001  r1", "m010  -"]


def test_plan_text_names_every_host_of_the_blast_radius():
    change = {"type": "node.add", "status": "planned", "plan": {
        "steps": [{"id": "s1", "name": "preflight", "kind": "check"}],
        "blast_radius": {"hosts": ["m001", "m002"], "components": ["kubelet"]}}}
    text = plan_text(change)
    assert "hosts:      m001,m002" in text and "1. preflight  [check]" in text


def test_progress_has_a_bar_per_step_and_per_target_counts():
    change = {"id": "c1", "type": "node.add", "status": "running",
              "steps": [{"name": "join", "status": "running",
                         "targets": [{"host": "m001", "status": "succeeded"}, {"host": "m002", "status": "running"}]}],
              "results": [{"host": "m001", "status": "succeeded"}, {"host": "m002", "status": "running"}]}
    text = progress_text(change)
    assert bar(1, 2) in text and "targets: running=1  succeeded=1" in text
