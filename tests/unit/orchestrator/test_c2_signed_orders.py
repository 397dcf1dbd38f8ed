"""C2 and H1 on the orchestrator's side: every command it sends (executor jobs and
inventory commands) is signed with its key, and an rke job carries the planned endpoint of
every host of its fence, which the executor holds cluster.yml's nodes to."""
from __future__ import annotations

from autorke_common import claims
from autorke_common.catalogue.executor import ExecutorRun
from autorke_common.signing import Verifier, parse_signers
from autorke_orchestrator.domain.flow import ClusterView, Job
from autorke_orchestrator.domain.model import Change, Endpoint
from autorke_orchestrator.domain.orders import Order
from autorke_orchestrator.service_layer import dispatch, handlers
from autorke_orchestrator.service_layer.commands import DecideApproval
from fixtures.signing import trusted

from .fakes import FakeUnitOfWork, State
from .test_handlers import APPROVER, awaiting_approval, platform


def test_c2_every_command_the_orchestrator_sends_is_signed():
    uow = platform()
    change = awaiting_approval(uow)
    handlers.decide_approval(DecideApproval(change.id, "approve", "approve", "ok", APPROVER), uow)
    commands = [e for e in uow.emitted if e.subject.startswith("autorke.cmd.")]
    assert {e.type for e in commands} >= {"executor.run", "inventory.machine.transition"}
    verifier = Verifier(parse_signers(trusted("orchestrator")))
    assert all(verifier.verify(e) == "orchestrator" for e in commands)


def test_h1_an_rke_job_carries_the_planned_endpoint_of_every_fenced_host():
    endpoints = {h: Endpoint(h, f"10.0.0.{i}", 22, f"ssh-ed25519 AAAA{h}", "root")
                 for i, h in enumerate(("m001", "m002"), 1)}
    change = Change("chg-1", "node.add", "c1", ["m002"], {}, "alice", "manual", [],
                    ["m001", "m002", "m003"], [], endpoints=endpoints)  # m003: no endpoint known
    order = Order("chg-1:rke_up:1", "chg-1", "rke_up", "run", 1,
                  Job("rke", "up_update_only", (), {}, (), reports=("rke",)))
    [env] = dispatch.envelopes(FakeUnitOfWork(State()), change, order, None, "alice")
    run = ExecutorRun.model_validate(env.data)
    assert [(t.host, t.address, t.port) for t in run.targets] == [("m001", "10.0.0.1", 22), ("m002", "10.0.0.2", 22)]
    assert run.fence == ["m001", "m002", "m003"]
    uow = FakeUnitOfWork(State())
    with uow:
        dispatch.send(uow, change, order, None, "alice")
        uow.commit()
    assert Verifier(parse_signers(trusted("orchestrator"))).verify(uow.emitted[0]) == "orchestrator"


def test_an_executor_jobs_secrets_travel_as_claims_never_inline():
    """Claim-check (issue 17): each secret of a job is a reference plus digest, kept with the
    unit of work that sends it; a config the inventory keeps by reference is passed on as it is."""
    rkestate_ref = f"claim:inventory:{claims.digest_of('a large rkestate')}"
    cluster = ClusterView("c1", "rke", kubeconfig_sealed="sealed-kubeconfig",
                          configs_sealed={"cluster.yml": "sealed-yml", "cluster.rkestate": rkestate_ref})
    change = Change("chg-1", "node.add", "c1", [], {}, "alice", "manual", [], [], [])
    order = Order("chg-1:rke_up:1", "chg-1", "rke_up", "run", 1,
                  Job("rke", "up", (), {}, ("kubeconfig", "cluster_yml", "rkestate"), reports=("rke",)))
    uow = FakeUnitOfWork(State())
    with uow:
        dispatch.send(uow, change, order, cluster, "alice")
        uow.commit()
    run = ExecutorRun.model_validate(uow.emitted[0].data)
    assert run.secrets == {"kubeconfig": f"claim:orchestrator:{claims.digest_of('sealed-kubeconfig')}",
                           "cluster_yml": f"claim:orchestrator:{claims.digest_of('sealed-yml')}",
                           "rkestate": rkestate_ref}
    assert uow.state.claims == {claims.digest_of(v): v for v in ("sealed-kubeconfig", "sealed-yml")}
    assert "sealed-kubeconfig" not in uow.emitted[0].model_dump_json()
