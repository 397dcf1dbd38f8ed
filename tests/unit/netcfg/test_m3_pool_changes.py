"""M3: an IP pool is never written at once. A REST request is judged against the cluster
(P7, immutable fields), then becomes an orchestrator change created as the caller (a
refused request creates nothing and stores nothing); the change's check step answers its
verdict with the slugs; only its apply step (after the approval) writes, under the
cluster's pool lock, checked again, and its compensation puts back what it found. With
fakes of netcfg's own ports (``fakes.py``)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from autorke_common.catalogue.netcfg import ApplyPool, CheckPool
from autorke_common.errors import DomainError, Problem, problem_of
from autorke_netcfg.adapters.kube import ClusterRefused
from autorke_netcfg.adapters.orm import ClusterRow
from autorke_netcfg.domain import pool_rules
from autorke_netcfg.domain.commands import RequestPoolChange
from autorke_netcfg.service_layer import pools, views
from autorke_netcfg.service_layer.ports import Ports

from .fakes import FakeChanges, FakeCluster, FakeClusters, FakeUnitOfWork, ports

CLUSTER = ClusterRow(name="c1", kubeconfig_sealed="sealed", host_networks=["10.20.0.0/16"],
                     service_cidr="10.43.0.0/16", pod_cidr="10.42.0.0/16", bgp_as=64512)
SPEC = pool_rules.normalise("pods", {"cidr": "10.80.0.0/16", "blockSize": 24}).spec()


@dataclass
class World:
    uow: FakeUnitOfWork
    cluster: FakeCluster
    changes: FakeChanges
    ports: Ports

    def events(self) -> list[tuple[str, dict]]:
        return [(e.type, e.data) for e in self.uow.events]


@pytest.fixture
def world() -> World:
    uow, cluster, changes = FakeUnitOfWork(), FakeCluster({"w1": ("10.20.1.11", "r1")}), FakeChanges()
    uow.seed(CLUSTER)
    return World(uow, cluster, changes, ports(uow, FakeClusters(c1=cluster), changes=changes))


def request(world: World, operation: str, name: str = "pods", spec: dict | None = None) -> dict:
    return pools.request_change(RequestPoolChange("c1", name, operation, spec, "operator", "Bearer tok"),
                                world.ports)


def refused(fn, *args) -> DomainError | Problem:
    with pytest.raises((DomainError, Problem)) as caught:
        fn(*args)
    return caught.value


def status(error: DomainError | Problem) -> int:
    return problem_of(error).status if isinstance(error, DomainError) else error.status


def check(operation: str, name: str = "pods", spec: dict | None = None, previous: dict | None = None,
          change: str = "chg-1") -> CheckPool:
    return CheckPool(command_id=f"{change}:check:1|kube-api", change_id=change, cluster="c1", pool=name,
                     requested_by="operator", operation=operation, spec=spec, previous=previous)


def apply_(operation: str, before: dict | None, after: dict | None, name: str = "pods",
           change: str = "chg-1", step: str = "apply:1") -> ApplyPool:
    return ApplyPool(command_id=f"{change}:{step}|kube-api", change_id=change, cluster="c1", pool=name,
                     requested_by="operator", operation=operation, before=before, after=after)


# -- the request ---------------------------------------------------------------------------
def test_m3_a_pool_request_becomes_a_change_as_the_caller_and_writes_nothing(world):
    change = request(world, "create", spec={"cidr": "10.80.0.0/16", "blockSize": 24})
    assert change["id"] == "chg-1" and change["type"] == "ippool.create"
    (made,) = world.changes.created
    assert made["params"] == {"name": "pods", "spec": SPEC} and made["authorization"] == "Bearer tok"
    assert world.cluster.writes == [] and world.uow.events == [], "nothing written before the approval"
    shown = views.get_pool(world.ports, "c1", "pods")
    assert shown["in_cluster"] is False and shown["pending_change"]["id"] == "chg-1"
    assert shown["pending_change"]["type"] == "ippool.create"


def test_m3_an_update_carries_what_it_was_planned_against(world):
    world.cluster.put("ippools", "pods", SPEC)
    request(world, "update", spec={**SPEC, "natOutgoing": True})
    (made,) = world.changes.created
    assert made["params"] == {"name": "pods", "spec": {**SPEC, "natOutgoing": True}, "previous": SPEC}
    assert views.get_pool(world.ports, "c1", "pods")["pending_change"]["operation"] == "update"


@pytest.mark.parametrize("operation,spec,slug,code", [
    ("create", {"cidr": "10.20.5.0/24"}, "pool-overlaps-host-network", 409),
    ("create", {"cidr": "127.0.0.0/16"}, "pool-overlaps-reserved", 422),
    ("create", {"cidr": "10.42.0.0/16"}, "pool-overlaps-pod-cidr", 409),
    ("create", {"cidr": "10.1.1.0/16"}, "invalid-cidr", 422),
    ("update", {"cidr": "10.81.0.0/16", "blockSize": 24}, "immutable-field", 422),
    ("update", {"cidr": "10.80.0.0/16", "blockSize": 26}, "immutable-field", 422),
])
def test_m3_a_refused_request_creates_no_change_and_stores_nothing(world, operation, spec, slug, code):
    if operation == "update":
        world.cluster.put("ippools", "pods", SPEC)
    error = refused(request, world, operation, "pods", spec)
    assert error.slug == slug and status(error) == code and error.extensions["field"] in ("cidr", "blockSize")
    assert world.changes.created == [] and world.cluster.writes == []
    assert world.uow.store["pool_changes"] == {} and not world.uow.committed


def test_m3_a_pool_with_an_open_change_takes_no_second_one(world):
    world.cluster.put("ippools", "pods", SPEC)
    request(world, "disable")
    error = refused(request, world, "enable")
    assert error.slug == "pool-change-pending" and error.extensions["change"] == "chg-1"
    assert len(world.changes.created) == 1
    assert pools.change_closed(world.ports, "chg-1")   # the orchestrator's change finished
    request(world, "enable")


def test_m3_a_pool_being_created_takes_no_other_change_meanwhile(world):
    request(world, "create", spec={"cidr": "10.80.0.0/16", "blockSize": 24})
    error = refused(request, world, "update", "pods", {**SPEC, "natOutgoing": True})
    assert error.slug == "pool-change-pending" and status(error) == 409   # not "not-found"


def test_m3_the_orchestrators_refusal_stores_nothing(world):
    world.changes.refuse = Problem("forbidden", "Forbidden", 403, "needs operator")
    error = refused(request, world, "create", "pods", {"cidr": "10.80.0.0/16"})
    assert error.status == 403 and world.uow.store["pool_changes"] == {}


# -- the check step ----------------------------------------------------------------------------
def test_m3_the_check_answers_its_verdict_with_the_slug(world):
    assert pools.check(check("create", spec={"cidr": "10.20.0.0/24"}), world.ports) is not None
    ((kind, data),) = world.events()
    assert kind == "netcfg.ippool.checked" and data["command_id"] == "chg-1:check:1|kube-api"
    assert [v["slug"] for v in data["violations"]] == ["pool-overlaps-host-network"]
    assert world.cluster.writes == []


def test_m3_the_check_refuses_a_pool_changed_since_the_request(world):
    world.cluster.put("ippools", "pods", {**SPEC, "natOutgoing": True})   # changed behind the plan
    pools.check(check("disable", previous=SPEC), world.ports)
    (_, data), = world.events()
    assert [v["slug"] for v in data["violations"]] == ["pool-changed-meanwhile"]


def test_m3_a_check_on_an_unknown_cluster_is_answered_not_dropped(world):
    pools.check(CheckPool(command_id="c:check:1|kube-api", change_id="c", cluster="nope", pool="p",
                          operation="create", spec={"cidr": "10.80.0.0/16"}), world.ports)
    (kind, data), = world.events()
    assert kind == "netcfg.ippool.refused" and data["problem"] == "not-found"


# -- the apply step and its compensation ------------------------------------------------------------
def test_m3_apply_writes_records_answers_and_a_resent_apply_has_one_effect(world):
    request(world, "create", spec={"cidr": "10.80.0.0/16", "blockSize": 24})
    assert pools.apply(apply_("create", None, SPEC), world.ports)
    assert world.cluster.objects[("ippools", "pods")]["spec"] == SPEC
    assert [k for k, _ in world.events()] == ["netcfg.ippool.created", "netcfg.ippool.applied"]
    assert world.events()[0][1]["change_id"] == "chg-1"
    record = world.uow.row("pools", ("c1", "pods"))
    assert record.spec == SPEC and record.write_started_at is None
    assert views.get_pool(world.ports, "c1", "pods")["pending_change"] is None
    assert views.get_pool(world.ports, "c1", "pods")["managed"] is True
    pools.apply(apply_("create", None, SPEC), world.ports)             # redelivered
    assert world.cluster.writes == [("create", "ippools", "pods")]
    assert [k for k, _ in world.events()][-1] == "netcfg.ippool.applied"


def test_m3_apply_checks_again_and_writes_nothing_when_the_cluster_changed(world):
    world.cluster.put("ippools", "rival", {"cidr": "10.80.0.0/17", "blockSize": 26})  # since the check
    assert not pools.apply(apply_("create", None, SPEC), world.ports)
    (kind, data), = world.events()
    assert kind == "netcfg.ippool.refused" and data["problem"] == "pool-overlaps-pool"
    assert world.cluster.writes == []


def test_m3_a_cluster_write_that_fails_is_answered_and_not_recorded(world):
    world.cluster.fail["create"] = ClusterRefused(500, "Internal Server Error")
    assert not pools.apply(apply_("create", None, SPEC), world.ports)
    (kind, data), = world.events()
    assert kind == "netcfg.ippool.refused" and data["problem"] == "cluster-error"
    assert world.uow.row("pools", ("c1", "pods")).spec == {}


def test_m3_compensation_removes_what_the_create_made_but_never_a_pool_changed_since(world):
    pools.apply(apply_("create", None, SPEC), world.ports)
    world.cluster.put("ippools", "pods", {**SPEC, "natOutgoing": True})   # someone else's since
    assert not pools.apply(apply_("restore", SPEC, None, step="apply:undo:1"), world.ports)
    assert ("ippools", "pods") in world.cluster.objects
    assert world.events()[-1][1]["problem"] == "pool-changed-meanwhile"
    world.cluster.put("ippools", "pods", SPEC)
    assert pools.apply(apply_("restore", SPEC, None, step="apply:undo:2"), world.ports)
    assert ("ippools", "pods") not in world.cluster.objects


def test_m3_compensation_puts_the_previous_spec_back(world):
    world.cluster.put("ippools", "pods", SPEC)
    disabled = {**SPEC, "disabled": True}
    pools.apply(apply_("disable", SPEC, disabled), world.ports)
    assert world.cluster.objects[("ippools", "pods")]["spec"]["disabled"] is True
    pools.apply(apply_("restore", disabled, SPEC, step="apply:undo:1"), world.ports)
    assert world.cluster.objects[("ippools", "pods")]["spec"]["disabled"] is False
