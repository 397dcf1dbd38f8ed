"""The executor's rules without I/O: the fence (P5), the probe verdict (P2), job status,
output capping, job validation and how script parameters are quoted."""
from __future__ import annotations

import json
import shlex

import pytest

from autorke_common.catalogue.executor import ExecutorRun
from autorke_executor.domain.model import (
    HeadTail,
    InvalidJob,
    TargetOutcome,
    cap_output,
    dropped_marker,
    fence_refusal,
    job_status,
    needs_probe,
    probe_evidence,
    rke_outside_fence,
    split_by_fence,
    validate,
)
from autorke_executor.domain.script_command import UnsafeParameter, script_command
from autorke_executor.service_layer.live_output import LiveOutput


def test_p5_fence_splits_and_empty_fence_allows_nothing():
    assert split_by_fence(["a", "b", "c"], ["c", "a"]) == (["a", "c"], ["b"])
    assert split_by_fence(["a"], []) == ([], ["a"])
    refusal = fence_refusal("b")
    assert (refusal.status, refusal.error_class) == ("refused", "refused_fence")


def test_p5_rke_fence_covers_the_nodes_its_state_would_remove():
    """rke connects to cluster.yml's nodes and to the nodes of the applied state it is told
    to reconcile away: both must be inside the fence."""
    yml = {"nodes": [{"address": "10.0.0.2", "hostname_override": "m002"}]}
    state = json.dumps({"currentState": {"rkeConfig": {"nodes": [
        {"address": "10.0.0.1", "hostname_override": "m001"},
        {"address": "10.0.0.2", "hostname_override": "m002"}]}}})
    at = {"m001": ("10.0.0.1", 22), "m002": ("10.0.0.2", 22)}
    assert rke_outside_fence(yml, None, ["m002"], at) == []
    assert rke_outside_fence(yml, state, ["m002"], at) == ["m001"]
    assert rke_outside_fence(yml, state, ["m001", "m002"], at) == []
    assert rke_outside_fence(yml, "not json", ["m002"], at) == []
    assert rke_outside_fence({"nodes": [{"address": "10.0.0.9"}]}, None, [], at) == ["10.0.0.9"]


def test_h1_rke_fence_needs_the_fenced_name_at_its_planned_address_and_port():
    """H1: a fenced host name is not enough: rke dials the node's address, so a cluster.yml
    that points ``m001`` (in the fence) at another machine is refused, and so is a node the
    job gives no endpoint for. Before the fix a name OR an address in the fence passed."""
    at = {"m001": ("10.0.0.1", 22), "m002": ("10.0.0.2", 2202)}

    def outside(*nodes: dict) -> list[str]:
        return rke_outside_fence({"nodes": list(nodes)}, None, ["m001", "m002", "m003"], at)

    assert outside({"address": "10.0.0.1", "hostname_override": "m001"},
                   {"address": "10.0.0.2", "port": "2202", "hostname_override": "m002"}) == []
    assert outside({"address": "10.9.9.9", "hostname_override": "m001"}) == \
        ["m001 at 10.9.9.9:22 (its endpoint is 10.0.0.1:22)"]
    assert outside({"address": "10.0.0.2", "hostname_override": "m002"}) == \
        ["m002 at 10.0.0.2:22 (its endpoint is 10.0.0.2:2202)"]  # same address, another sshd
    assert outside({"address": "10.0.0.3", "hostname_override": "m003"}) == ["m003 (no endpoint of it in the job)"]
    assert outside({"address": "m001"}) == ["m001 at m001:22 (its endpoint is 10.0.0.1:22)"]  # a name as address
    state = json.dumps({"currentState": {"rkeConfig": {"nodes": [{"address": "10.9.9.9",
                                                                  "hostname_override": "m002"}]}}})
    assert rke_outside_fence({"nodes": []}, state, ["m002"], at) == \
        ["m002 at 10.9.9.9:22 (its endpoint is 10.0.0.2:2202)"]


def test_p2_probe_evidence_and_which_actions_are_guarded():
    clean = {"processes": [], "containers": [], "paths": [], "units": []}
    assert probe_evidence(clean) == []
    found = probe_evidence({"processes": ["kubelet pid 7"], "containers": ["etcd"],
                            "paths": ["/etc/kubernetes"], "units": ["/etc/systemd/system/rke2-agent.service"]})
    assert found == ["process running: kubelet pid 7", "container present: etcd",
                     "path exists: /etc/kubernetes", "unit present: /etc/systemd/system/rke2-agent.service"]
    for action, guarded in [("init", True), ("cleanup", True), ("facts", False), ("preflight", False)]:
        job = ExecutorRun(job_id="j", kind="script", action=action, params={"profile": "base"})
        assert needs_probe(job) is guarded


def test_job_status_from_outcomes():
    ok, bad = TargetOutcome.ok("a", 1), TargetOutcome.failed("b", "timeout", "slow")
    assert job_status([ok, ok]) == "succeeded"
    assert job_status([ok, bad]) == "partially_failed"
    assert job_status([bad]) == "failed"
    assert job_status([]) == "failed"


def _dropped_count(text: str) -> int:
    return int(text.split("[... ")[1].split(" bytes")[0])


def test_output_is_capped_keeping_its_head_and_tail_and_counting_what_was_dropped():
    text = "BEGIN" + "x" * 5000 + "END"
    capped = cap_output(text, cap=1024)
    assert len(capped) <= 1024 and capped.startswith("BEGIN") and capped.endswith("xEND")
    count = _dropped_count(capped)
    assert count == len(text) - (len(capped) - len(dropped_marker(count))), "every character left out counted"
    assert cap_output("short", cap=1024) == "short"


def test_h5_a_stream_is_held_as_head_and_tail_and_the_stored_cap_counts_every_dropped_byte():
    """A command's stream of any length is held in bounded memory (its head and tail),
    and the stored output, capped again, still counts what the stream had dropped."""
    stream = HeadTail(head=100, tail=100)
    stream.add(b"H" * 150)
    for _ in range(1000):
        stream.add(b"m" * 997)
        assert len(stream._head) + len(stream._tail) <= 100 + 2 * 100 + 997
    stream.add(b"T" * 30)
    held = stream.value()
    assert held.startswith(b"H" * 100) and held.endswith(b"m" * 70 + b"T" * 30)
    assert stream.dropped == 150 + 997 * 1000 + 30 - 200
    assert dropped_marker(stream.dropped).encode() in held
    small = HeadTail(head=100, tail=100)
    small.add(b"abc")
    assert small.value() == b"abc" and small.dropped == 0

    text = held.decode() + "\n" + "e" * 400
    capped = cap_output(text, cap=300)
    assert len(capped) <= 300 and capped.startswith("H") and capped.endswith("e" * 100)
    assert capped.count("bytes of output dropped") == 1, "one marker, never one cut in half"
    count = _dropped_count(capped)
    assert count == len(text) - (len(capped) - len(dropped_marker(count))) - len(dropped_marker(stream.dropped)) \
        + stream.dropped, "what the stream dropped is counted with what the cap cut"


@pytest.mark.parametrize("fields,message", [
    ({"kind": "script", "action": "format-disks"}, "unknown script action"),
    ({"kind": "script", "action": "init"}, "params.profile"),
    ({"kind": "kube", "action": "cordon", "secrets": {"kubeconfig": "s"}}, "params.nodes"),
    ({"kind": "kube", "action": "list_nodes"}, "secrets.kubeconfig"),
    ({"kind": "rke2", "action": "join", "targets": [], "fence": []}, "needs its nodes"),
    ({"kind": "rke", "action": "up"}, "cluster.yml"),
])
def test_invalid_jobs_are_refused_with_a_reason(fields, message):
    with pytest.raises(InvalidJob, match=message):
        validate(ExecutorRun(job_id="j", **fields))


def test_script_parameters_are_quoted_never_spliced():
    hostile = "x; rm -rf / #$(reboot)"
    cmd = script_command("init", "job'1", [hostile, "gpu"], {"MIN_FREE_GB": "5 && reboot"})
    words = shlex.split(cmd)
    assert words[:2] == ["AUTORKE_JOB_ID=job'1", "AUTORKE_SCRIPT=init"]
    assert "MIN_FREE_GB=5 && reboot" in words
    assert words[-5:] == ["bash", "-s", "--", hostile, "gpu"]
    with pytest.raises(UnsafeParameter):
        script_command("facts", "j", env={"PATH;reboot": "x"})
    with pytest.raises(UnsafeParameter):
        script_command("facts", "j", env={"AUTORKE_JOB_ID": "spoof"})


def test_live_output_joins_chunks_into_lines_and_caps_per_host():
    live = LiveOutput(cap_per_host=20)
    sink = live.sink("m1")
    sink("stdout", b"hel")
    sink("stdout", b"lo\nwor")
    sink("stdout", b"ld")
    live.close_host("m1")
    assert [line["line"] for line in live.drain()] == ["hello", "world"]
    live.feed("m2", "stdout", "a" * 30 + "\n" + "more\n")
    lines = live.drain()
    assert len(lines) == 1 and lines[0]["line"].endswith("[live output capped]")
    live.sink("m3", quiet=True)("stdout", b"secret json\n")
    assert live.drain() == []
