"""The flows' step lists are what they were before the steps written twice became shared
(``flows/guards.py``'s ``P2_GUARD`` for machine.init and machine.cleanup; node.add's
``PREFLIGHT``, ``INIT``, ``RENDER_CONFIG``, ``STORE_STATE``, ``RKE1_READY`` and
``rke1_member`` for node.add_core): every flow is compared, by a fingerprint of all it
declares (each step's fields, the functions it calls by name and what their closures hold),
with the fingerprint taken at ``1b953ca``, before the sharing.

A flow changed on purpose changes its fingerprint: print the new ones with
``python -m tests.unit.orchestrator.test_flow_steps`` and say in the commit why the flow changed."""
from __future__ import annotations

import dataclasses
import hashlib
import types
from typing import Any

from autorke_orchestrator.domain.flows import FLOWS
from autorke_orchestrator.domain.flows.guards import P2_GUARD
from autorke_orchestrator.domain.flows.node_add import INIT, PREFLIGHT, RENDER_CONFIG, RKE1_READY, STORE_STATE

#: (change type, provider) -> (step ids, fingerprint), as at 1b953ca (but where a comment says why not).
BEFORE = {
    ("machine.init", None): (["guard", "probe", "preflight", "approve", "init"], "82e6731e19b9dcd3"),
    ("machine.cleanup", None): (["guard", "probe", "approve", "cleanup"], "790593876c814f26"),
    ("node.add", "rke2"): (["guard", "preflight", "approve", "init", "join", "ready", "labels", "member"],
                           "1341f82124bb6b47"),
    ("node.add", "rke"): (["guard", "preflight", "approve", "init", "member", "config", "rke_up", "state", "ready"],
                          "041fa7e74ee12989"),
    ("node.add_core", "rke"): (["guard", "preflight", "approve", "init", "member", "config", "rke_up", "state",
                                "ready"], "effc886d40f53e3d"),
    ("node.remove", "rke2"): (["guard", "approve", "cordon", "drain", "unjoin", "delete", "release", "cleanup"],
                              "c247d071841a93d3"),
    ("node.remove", "rke"): (["guard", "approve", "cordon", "drain", "unmember", "config", "rke_up", "state",
                              "cleanup"], "9c1881a38b251066"),
    ("node.update", None): (["guard", "approve", "labels", "taints", "record"], "2cfbbbefce110ab9"),
    # changed on purpose (issue 15, H6): the name_free check lists every etcd node's snapshots
    # before anything is written, and the compensation runs only where the step made its file
    ("etcd.snapshot", None): (["guard", "name_free", "approve", "snapshot"], "8dc9a45d8fcaefff"),
    ("etcd.restore", None): (["guard", "snapshot_present", "approve", "stop", "restore", "start", "health",
                              "reconcile"], "f5659f17773aff9a"),
    # new (issue 15, H1/H2): config writes of the REST API are changes with a preview and a gate
    ("config.update", None): (["preview", "approve", "approve_admin", "adopt"], "952a548353f6b707"),
    ("config.import", None): (["preview", "approve", "approve_admin", "adopt"], "92d98214a0fe174a"),
    ("config.rollback", None): (["preview", "approve", "approve_admin", "adopt"], "3dd51fb46d75109c"),
    # new (issue 15, M3): IP pool writes of the REST API are changes with a check and a gate
    ("ippool.create", None): (["check", "approve", "apply"], "1f152ef307f9ead8"),
    ("ippool.update", None): (["check", "approve", "apply"], "dde49d53a8a923a1"),
    ("ippool.delete", None): (["check", "approve", "apply"], "022af086211a312a"),
    ("ippool.enable", None): (["check", "approve", "apply"], "ba2b7d2dfd7bea02"),
    ("ippool.disable", None): (["check", "approve", "apply"], "303e878959ca7835"),
}


#: fields a StepSpec gained later (issue 18: the flat-network steps): left out while they hold
#: their default, so a flow that does not use them keeps its fingerprint
LATER_FIELDS = ("failure_status", "retry_from", "group")


def describe(value: Any) -> str:
    """What a flow declares, wherever it was declared: dataclasses field by field,
    functions by name and the values their closures hold."""
    if isinstance(value, types.FunctionType):
        cells = tuple(describe(c.cell_contents) for c in (value.__closure__ or ()))
        return f"{value.__qualname__}{cells if cells else ''}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return f"{type(value).__name__}(" + ", ".join(
            f"{f.name}={describe(getattr(value, f.name))}" for f in dataclasses.fields(value)
            if not (f.name in LATER_FIELDS and getattr(value, f.name) == f.default)) + ")"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def fingerprint(flow: Any) -> str:
    return hashlib.sha256(describe(flow).encode()).hexdigest()[:16]


def test_every_flow_declares_what_it_did_before_its_steps_were_shared():
    now = {key: ([s.id for s in flow.steps], fingerprint(flow)) for key, flow in FLOWS.items()}
    assert now == BEFORE


def test_the_p2_guard_is_written_once_for_init_and_cleanup():
    for key in (("machine.init", None), ("machine.cleanup", None)):
        assert FLOWS[key].steps[:2] == P2_GUARD, key
        assert P2_GUARD[0].guard is FLOWS[key].validate, "the plan and the first step check the same rule"


def test_node_add_core_takes_node_adds_steps_as_they_are():
    rke1, core = FLOWS[("node.add", "rke")], FLOWS[("node.add_core", "rke")]
    for shared in (PREFLIGHT, INIT, RENDER_CONFIG, STORE_STATE, RKE1_READY):
        assert rke1.spec(shared.id) is shared and core.spec(shared.id) is shared, shared.id
    assert rke1.spec("member").marks == core.spec("member").marks
    assert rke1.spec("member").job is not core.spec("member").job, "core assigns the roles it was asked for"


if __name__ == "__main__":
    for key, flow in FLOWS.items():
        print(key, [s.id for s in flow.steps], fingerprint(flow))
