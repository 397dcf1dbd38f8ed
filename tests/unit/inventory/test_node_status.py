"""Reading a member's node status from a listing (the executor's flat summary or a full
v1 Node): Ready/NotReady/Unknown as kubectl says it, the conditions that are not OK, the
kubelet version and cordoned — and what counts as a change worth an event."""
from __future__ import annotations

from autorke_inventory.domain import node_status as ns


def cond(type_: str, status: str, reason: str = "r") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": f"{type_} is {status}",
            "last_transition_time": "2026-11-29T04:00:00+00:00"}


HEALTHY = [cond("MemoryPressure", "False"), cond("DiskPressure", "False"),
           cond("PIDPressure", "False"), cond("Ready", "True", "KubeletReady")]


def test_a_healthy_listed_node_is_ready_with_no_problems():
    s = ns.read({"name": "m001", "ready": True, "unschedulable": False,
                 "kubelet_version": "v1.30.4+rke2r1", "conditions": HEALTHY})
    assert (s.ready, s.summary, s.problems, s.reason) == ("True", "Ready", [], "KubeletReady")
    assert s.kubelet_version == "v1.30.4+rke2r1" and not s.unschedulable


def test_a_kubelet_that_stopped_posting_is_notready_and_pressure_is_a_problem():
    conditions = [cond("MemoryPressure", "True", "KubeletHasInsufficientMemory"),
                  cond("DiskPressure", "False"), cond("NetworkUnavailable", "True"),
                  cond("Ready", "Unknown", "NodeStatusUnknown")]
    s = ns.read({"name": "m001", "ready": False, "unschedulable": True, "conditions": conditions})
    assert (s.ready, s.summary, s.reason, s.unschedulable) == ("Unknown", "NotReady",
                                                               "NodeStatusUnknown", True)
    assert [(p["type"], p["status"]) for p in s.problems] == [("MemoryPressure", "True"),
                                                              ("NetworkUnavailable", "True")]
    assert ns.read({"conditions": [cond("Ready", "False")]}).summary == "NotReady"


def test_a_full_v1_node_reads_the_same():
    node = {"metadata": {"name": "m002"}, "spec": {"unschedulable": True},
            "status": {"nodeInfo": {"kubeletVersion": "v1.28.15"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastTransitionTime": "2026-11-29T04:00:00Z"},
                                      {"type": "PIDPressure", "status": "True"}]}}
    s = ns.read(node)
    assert (s.summary, s.kubelet_version, s.unschedulable) == ("Ready", "v1.28.15", True)
    assert [p["type"] for p in s.problems] == ["PIDPressure"]


def test_a_listing_without_conditions_falls_back_to_its_ready_flag_and_odd_values_are_unknown():
    assert ns.read({"name": "a", "ready": True}).summary == "Ready"
    assert ns.read({"name": "a", "ready": False}).summary == "NotReady"
    assert ns.read({"conditions": [cond("Ready", "Maybe")]}).ready == "Unknown"
    assert ns.read({"name": "a"}).summary == "Unknown"


def test_not_registered_is_unknown_and_changes_are_about_what_an_operator_sees():
    assert ns.NOT_REGISTERED.summary == "Unknown" and not ns.NOT_REGISTERED.registered
    a = ns.read({"conditions": HEALTHY, "kubelet_version": "v1"})
    b = ns.read({"conditions": [dict(c, message="other words") for c in HEALTHY],
                 "kubelet_version": "v1"})
    assert a.fingerprint() == b.fingerprint()  # a new message or time is not a change
    assert a.fingerprint() != ns.read({"conditions": HEALTHY, "kubelet_version": "v2"}).fingerprint()
    assert a.fingerprint() != ns.read({"conditions": HEALTHY, "unschedulable": True,
                                       "kubelet_version": "v1"}).fingerprint()
