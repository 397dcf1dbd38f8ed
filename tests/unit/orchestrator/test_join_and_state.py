"""The contract gaps closed for real runs, decided in the domain: an RKE2 join uses the
cluster's registered join address and sealed token (no token: refused before anything
runs), and the rkestate an ``rke up`` returned goes back to the inventory sealed."""
from __future__ import annotations

import pytest

from autorke_common.errors import Conflict
from autorke_orchestrator.domain.flow import ClusterView, FlowContext, MachineView
from autorke_orchestrator.domain.flows import flow_for
from autorke_orchestrator.domain.flows.node_add import join, store_state
from autorke_orchestrator.domain.planning import ChangeRequest, context, plan


def rke2(**join_data) -> ClusterView:
    return ClusterView("c2", "rke2", "https://c2:6443", "sealed-kubeconfig", join_data.get("token"),
                       {"s1": ["etcd", "controlplane"]}, join_data.get("address"))


def test_rke2_node_add_without_join_data_is_refused_at_plan():
    req = ChangeRequest("node.add", "c2", ["n1"], {"role": "worker"})
    ctx = context(req, rke2(), {"n1": MachineView("n1", "n1")})
    with pytest.raises(Conflict) as e:
        plan(req, flow_for("node.add", "rke2"), ctx, "alice", {})
    assert e.value.slug == "cluster-not-joinable"


def test_rke2_join_goes_to_the_join_address_with_the_sealed_token():
    ctx = FlowContext("node.add", rke2(token="sealed-token", address="https://s1:9345"), ["n1"],
                      {"role": "worker"}, {"n1": MachineView("n1", "n1")})
    job = join(ctx, ["n1"])
    assert (job.kind, job.action, job.params["server"], job.secrets) == ("rke2", "join", "https://s1:9345", ("token",))


def test_new_rkestate_is_stored_sealed_from_the_rke_run_result():
    ctx = FlowContext("node.add", ClusterView("c1", "rke"), ["n1"], {}, {},
                      results={"rke_up": {"rke": {"rkestate": "sealed-state"}}})
    job = store_state(ctx, [])
    assert (job.service, job.action) == ("inventory", "inventory.config.store")
    assert job.params == {"cluster": "c1", "kind": "cluster.rkestate", "content_sealed": "sealed-state",
                          "comment": "written by rke up"}
