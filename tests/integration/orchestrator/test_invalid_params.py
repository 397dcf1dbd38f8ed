"""Bad change params are refused at plan time (issue 14, item 3): 422 ``invalid-params``
naming the field, and nothing is created — no change row, no machine lock, no event in the
outbox, no command on the bus. Before, a shell command as a label value was accepted and
waited for approval, and a label list or a taint without key answered 500."""
from __future__ import annotations

from sqlalchemy import func, select

from autorke_orchestrator.adapters.orm import ChangeRow, MachineLockRow

from .conftest import Orchestrator


def nothing_written(o: Orchestrator) -> tuple[int, int, int]:
    with o.db().unit_of_work() as uow:
        s = uow.session
        return (s.execute(select(func.count()).select_from(ChangeRow)).scalar(),
                s.execute(select(func.count()).select_from(MachineLockRow)).scalar(),
                s.execute(select(func.count()).select_from(o.db().tables.outbox)).scalar())


def test_invalid_params_are_a_422_naming_the_field_and_create_nothing(orch: Orchestrator):
    o = orch
    outbox_before = nothing_written(o)[2]
    member, free = f"{o.tag}a002", f"{o.tag}f001"
    labels_of = {"team": "$(reboot); `id`"}
    cases = [  # type, cluster, targets, params, the field named first
        ("node.update", o.rke2, [member], {"labels": labels_of}, "params.labels.team"),
        ("node.update", o.rke2, [member], {"labels": ["team=a"]}, "params.labels"),
        ("node.add", o.rke2, [free], {"role": "worker", "taints": [{"value": "x"}]}, "params.taints.0.key"),
        ("node.add", o.rke1, [free], {"role": "worker", "labels": {"node-role.kubernetes.io/etcd": "true"}},
         "params.labels.node-role.kubernetes.io/etcd"),
        ("machine.init", None, [free], {"profile": "gpu", "script": "reboot"}, "params.script"),
        ("etcd.restore", o.rke1, [], {"snapshot_name": "../../etc/passwd"}, "params.snapshot_name"),
    ]
    for change_type, cluster, targets, params, field in cases:
        for dry_run in (False, True):
            r = o.create(type=change_type, cluster=cluster, targets=targets, params=params, dry_run=dry_run)
            assert r.status_code == 422, (change_type, params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert problem["type"].endswith("/invalid-params"), problem
            assert problem["field"] == field and field in [e["field"] for e in problem["errors"]], problem
            assert field in problem["detail"] and all(e["message"] for e in problem["errors"])

    assert nothing_written(o) == (0, 0, outbox_before), "no change row, no machine lock, no outbox event"
    assert o.driver.runs() == [] and o.driver.events == [], "nothing on the bus"


def test_valid_params_are_stored_normalised(orch: Orchestrator):
    o = orch
    r = o.create(type="node.update", cluster=o.rke2, targets=[f"{o.tag}a003"],
                 params={"labels": {"team": "blue"}, "taints": [{"key": "example.com/gpu"}]})
    assert r.status_code == 201, r.text
    assert o.get(r.json()["id"])["params"] == {
        "labels": {"team": "blue"}, "taints": [{"key": "example.com/gpu", "value": "", "effect": "NoSchedule"}]}
