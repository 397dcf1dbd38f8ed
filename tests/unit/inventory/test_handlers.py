"""The inventory's handlers on in-memory fakes (no database, no bus): the membership guard
(P1, and every command within an open change), lifecycle transitions, the CMDB sync's
decisions as they land on machines, and a few REST handlers' refusals. Each refusal is
checked to leave the store as it was."""
from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, Invalid, Problem
from autorke_common.secrets import SecretBox
from autorke_common.signing import Verifier, parse_signers
from autorke_inventory.adapters import repository
from autorke_inventory.adapters.unit_of_work import InventoryUnitOfWork
from autorke_inventory.bootstrap import command_handlers
from autorke_inventory.domain.commands import GatherFacts, ImportCluster, RegisterCluster, UpdateCluster
from autorke_inventory.domain.records import SourcePage, SourceRecord
from autorke_inventory.service_layer import handlers, jobs, messagebus
from autorke_inventory.service_layer import unit_of_work as ports
from autorke_inventory.service_layer.sync import SyncRunner
from fixtures import kubeconfigs
from fixtures.secret_keys import secret_key
from fixtures.signing import sign, trusted

from . import fakes
from .fakes import FakeUnitOfWork, Store, factory

BOX = SecretBox(secret_key("inventory-unit"))
CHANGE = "chg-unit"
VERIFIER = Verifier(parse_signers(trusted()), scope=lambda signer, _env: signer == "orchestrator")


# -- helpers ---------------------------------------------------------------------------------
@dataclass
class FakeCmdb:
    """A CMDB of records, read in pages of ``page_size``; the cursor is the count read."""

    records: dict[str, SourceRecord] = field(default_factory=dict)
    page_size: int = 2
    name: str = "cmdb"
    changed: list[str] = field(default_factory=list)

    def put(self, *records: SourceRecord) -> None:
        for r in records:
            self.records[r.id] = r
            self.changed.append(r.id)

    def pages(self, cursor: str | None) -> Iterator[SourcePage]:
        ids = sorted(self.records) if cursor is None else self.changed[int(cursor):]
        for i in range(0, max(len(ids), 1), self.page_size):
            chunk = ids[i:i + self.page_size]
            yield SourcePage([self.records[k] for k in chunk], str(len(self.changed)),
                             more=i + self.page_size < len(ids))

    def close(self) -> None:
        pass


def record(i: int, *, ip: str | None = None, rack: str = "r1", retired: bool = False) -> SourceRecord:
    return SourceRecord(f"cmdb-{i:03d}", f"m{i:03d}", ip or f"10.0.0.{i}", retired, rack=rack,
                        data={"ssh": {"address": ip or f"10.0.0.{i}", "host_key": "ssh-ed25519 AAAA"}})


def synced(*records: SourceRecord) -> tuple[Store, FakeCmdb]:
    """A store holding these records' machines, as a full sync left them."""
    store, cmdb = Store(), FakeCmdb()
    cmdb.put(*records)
    _, uow = factory(store)
    assert SyncRunner(uow, lambda: cmdb).run("full").ok
    return store, cmdb


def registration(name: str, **fields) -> RegisterCluster:
    """What the API hands the handler (its defaults filled in)."""
    data = {"name": name, "provider": "rke2", "api_endpoint": None, "kubeconfig": None, "join_address": None,
            "join_token": None, "host_networks": [], "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16",
            "bgp_as": None, "bastion": None, "options": {}}
    return RegisterCluster({**data, **fields}, "admin")


def with_clusters(store: Store, *names: str, kubeconfig: str | None = None) -> None:
    for name in names:
        handlers.register_cluster(registration(name, kubeconfig=kubeconfig), FakeUnitOfWork(store), box=BOX)


def send(store: Store, command: msg.Command | None = None, env: Envelope | None = None,
         signed_by: str | None = "orchestrator") -> str:
    """Hand the command to the inventory as the orchestrator sends it: signed."""
    env = env or Envelope.of(command, source="orchestrator", correlation_id=CHANGE, actor="alice")
    if signed_by:
        env = sign(env, signed_by)
    _, uow = factory(store)
    return messagebus.handle_command(env, uow, command_handlers(BOX), VERIFIER)


def assign(machine: str, cluster: str, roles: tuple[str, ...] = ("worker",)) -> msg.AssignMembership:
    return msg.AssignMembership(change_id=CHANGE, machine=machine, cluster=cluster, roles=list(roles))


def refusals(store: Store) -> list[str]:
    return [e.data["problem"] for e in store.events(msg.CommandRefused.TYPE)]


# -- the membership guard (P1) -------------------------------------------------------------------
def test_p1_a_machine_in_one_cluster_is_refused_in_another_and_nothing_changes():
    store, _ = synced(record(1))
    with_clusters(store, "a", "b")
    assert send(store, assign("cmdb-001", "a")) == msg.MembershipChanged.TYPE
    before = copy.deepcopy(store.state.memberships)
    events = len(store.outbox)

    env = Envelope.of(assign("m001", "b"), source="orchestrator", correlation_id=CHANGE, actor="alice")
    assert send(store, env=env) == msg.CommandRefused.TYPE  # the machine named by its hostname
    assert refusals(store) == ["machine-in-other-cluster"]
    refused = store.events(msg.CommandRefused.TYPE)[0]
    assert (refused.causation_id, refused.correlation_id, refused.data["cluster"]) == (env.id, CHANGE, "b")
    assert {k: m.cluster for k, m in store.state.memberships.items()} == \
        {k: m.cluster for k, m in before.items()} == {"cmdb-001": "a"}
    assert len(store.outbox) == events + 1  # the refusal, and nothing else


def test_p1_a_placement_that_loses_the_race_to_the_database_is_refused_the_same_way():
    store, _ = synced(record(1))
    with_clusters(store, "a", "b")
    store.concurrent["cmdb-001"] = "a"  # another transaction commits it in "a" after our check
    assert send(store, assign("cmdb-001", "b")) == msg.CommandRefused.TYPE
    refused = store.events(msg.CommandRefused.TYPE)[0]
    assert refused.data["problem"] == "machine-in-other-cluster" and "'a'" in refused.data["detail"]
    assert store.state.memberships == {} and not store.events(msg.MembershipChanged.TYPE)


def test_a_command_outside_an_open_change_is_refused_once_and_changes_nothing():
    store, _ = synced(record(1))
    with_clusters(store, "a")
    assert send(store, assign("cmdb-001", "a")) == msg.MembershipChanged.TYPE
    release = Envelope(type=msg.ReleaseMembership.TYPE, source="orchestrator",
                       subject=msg.ReleaseMembership.message_subject(),
                       data={"machine": "cmdb-001", "cluster": "a"})
    assert send(store, env=release) == msg.CommandRefused.TYPE
    assert send(store, env=release) == handlers.DUPLICATE  # redelivered: no second answer
    assert refusals(store) == ["no-open-change"]
    assert store.state.memberships["cmdb-001"].cluster == "a"


def test_a_redelivered_command_has_no_second_effect():
    store, _ = synced(record(1))
    with_clusters(store, "a")
    env = Envelope.of(assign("cmdb-001", "a"), source="orchestrator", correlation_id=CHANGE, actor="alice")
    assert send(store, env=env) == msg.MembershipChanged.TYPE
    assert send(store, env=env) == handlers.DUPLICATE
    assert len(store.events(msg.MembershipChanged.TYPE)) == 1


@pytest.mark.parametrize("state", ["retired", "faulty"])
def test_a_retired_or_faulty_machine_is_not_placed(state):
    store, _ = synced(record(1))
    with_clusters(store, "a")
    store.state.machines["cmdb-001"].state = state
    assert send(store, assign("cmdb-001", "a")) == msg.CommandRefused.TYPE
    assert refusals(store) == ["machine-unavailable"] and store.state.memberships == {}


def test_placing_a_member_asks_once_for_its_clusters_node_status():
    store, _ = synced(record(1))
    with_clusters(store, "a", kubeconfig=kubeconfigs.text(kubeconfigs.token_doc()))
    env = Envelope.of(assign("cmdb-001", "a"), source="orchestrator", correlation_id=CHANGE, actor="alice")
    assert send(store, env=env) == msg.MembershipChanged.TYPE
    (run,) = store.events(ex.ExecutorRun.TYPE)
    assert run.data["action"] == "list_nodes" and run.data["params"] == {"cluster": "a"}
    assert store.state.jobs[run.data["job_id"]].report == {"reason": "membership changed"}
    assert "t0ken-never-shown" not in str(run.data)  # the kubeconfig travels sealed


def test_release_and_update_node_need_the_machine_to_be_a_member_of_that_cluster():
    store, _ = synced(record(1), record(2))
    with_clusters(store, "a", "b")
    send(store, assign("cmdb-001", "a"))
    assert send(store, msg.ReleaseMembership(change_id=CHANGE, machine="cmdb-002", cluster="a")) == \
        msg.CommandRefused.TYPE
    assert send(store, msg.UpdateNode(change_id=CHANGE, machine="cmdb-001", cluster="b",
                                      labels={"x": "y"})) == msg.CommandRefused.TYPE
    assert refusals(store) == ["not-a-member", "machine-in-other-cluster"]
    assert send(store, msg.UpdateNode(change_id=CHANGE, machine="cmdb-001", cluster="a",
                                      labels={"pool": "gpu"})) == msg.MembershipChanged.TYPE
    assert store.state.memberships["cmdb-001"].labels == {"pool": "gpu"}
    assert send(store, msg.ReleaseMembership(change_id=CHANGE, machine="cmdb-001", cluster="a")) == \
        msg.MembershipChanged.TYPE
    assert store.state.memberships == {}
    assert [e.data["action"] for e in store.events(msg.MembershipChanged.TYPE)] == \
        ["assigned", "updated", "released"]


# -- lifecycle transitions -------------------------------------------------------------------------
def test_a_legal_transition_moves_the_machine_and_says_so():
    store, _ = synced(record(1))
    version = store.state.machines["cmdb-001"].version
    assert send(store, msg.TransitionMachine(change_id=CHANGE, machine="cmdb-001", state="initializing")) == \
        msg.MachineStateChanged.TYPE
    machine = store.state.machines["cmdb-001"]
    assert (machine.state, machine.version) == ("initializing", version + 1)
    (event,) = store.events(msg.MachineStateChanged.TYPE)
    assert (event.data["from_state"], event.data["to_state"], event.data["change_id"]) == (
        "available", "initializing", CHANGE)
    assert event.correlation_id == CHANGE and event.actor == "alice"


@pytest.mark.parametrize("current,target,expected", [
    ("available", "member", None),      # not a member of any cluster
    ("available", "removing", None),    # not an edge of the lifecycle
    ("retired", "ready", None),         # left only when the CMDB brings it back
    ("ready", "joining", "available"),  # the orchestrator's view is stale
])
def test_an_illegal_transition_is_refused_and_the_machine_stays(current, target, expected):
    store, _ = synced(record(1))
    store.state.machines["cmdb-001"].state = current
    command = msg.TransitionMachine(change_id=CHANGE, machine="cmdb-001", state=target, expected=expected)
    assert send(store, command) == msg.CommandRefused.TYPE
    assert refusals(store) == ["illegal-state-transition"]
    assert store.state.machines["cmdb-001"].state == current
    assert not store.events(msg.MachineStateChanged.TYPE)


def test_a_member_cannot_be_freed_before_it_is_released():
    store, _ = synced(record(1))
    with_clusters(store, "a")
    for state in ("ready", "joining"):
        send(store, msg.TransitionMachine(change_id=CHANGE, machine="cmdb-001", state=state))
    send(store, assign("cmdb-001", "a"))
    assert send(store, msg.TransitionMachine(change_id=CHANGE, machine="cmdb-001", state="member")) == \
        msg.MachineStateChanged.TYPE
    assert send(store, msg.TransitionMachine(change_id=CHANGE, machine="cmdb-001", state="ready")) == \
        msg.CommandRefused.TYPE
    assert store.events(msg.CommandRefused.TYPE)[-1].data["detail"].endswith("release it first")
    assert store.state.machines["cmdb-001"].state == "member"


# -- sync planning as it lands on machines --------------------------------------------------------
def test_a_full_sync_adds_every_record_and_an_unchanged_one_is_left_alone():
    store, cmdb = synced(record(1), record(2), record(3, retired=True))
    machines = store.state.machines
    assert {k: m.state for k, m in machines.items()} == {
        "cmdb-001": "available", "cmdb-002": "available", "cmdb-003": "retired"}
    added = store.events(msg.MachineAdded.TYPE)
    assert sorted(e.data["machine"] for e in added) == ["cmdb-001", "cmdb-002", "cmdb-003"]
    assert added[0].data["ssh"]["address"] == "10.0.0.1"
    assert store.state.sync_cursors["cmdb"].last_full_at is not None

    events = len(store.outbox)
    _, uow = factory(store)
    again = SyncRunner(uow, lambda: cmdb).run("full")
    assert (again.added, again.updated, again.unchanged, again.retired) == (0, 0, 3, 0)
    assert {e.type for e in store.outbox[events:]} == {
        msg.SyncStarted.TYPE, msg.SyncProgressed.TYPE, msg.SyncFinished.TYPE}


def test_an_incremental_sync_updates_changed_records_and_retires_retired_ones():
    store, cmdb = synced(record(1), record(2))
    version = store.state.machines["cmdb-001"].version
    cmdb.put(record(1, rack="r9"), record(2, retired=True), record(4))
    _, uow = factory(store)
    s = SyncRunner(uow, lambda: cmdb).run("incremental")
    assert (s.mode, s.seen, s.added, s.updated, s.retired) == ("incremental", 3, 1, 1, 1)
    machines = store.state.machines
    assert (machines["cmdb-001"].rack, machines["cmdb-001"].version) == ("r9", version + 1)
    assert machines["cmdb-002"].state == "retired" and machines["cmdb-004"].state == "available"
    (updated,) = store.events(msg.MachineUpdated.TYPE)
    assert updated.data["fields"] == ["cmdb"]
    assert [e.data["reason"] for e in store.events(msg.MachineRetired.TYPE)] == ["retired in the CMDB"]


def test_p1_a_members_new_ip_is_a_conflict_and_the_rest_of_its_record_is_applied():
    store, cmdb = synced(record(1))
    with_clusters(store, "a")
    send(store, assign("cmdb-001", "a"))
    cmdb.put(record(1, ip="10.9.9.9", rack="r7"))
    _, uow = factory(store)
    s = SyncRunner(uow, lambda: cmdb).run("incremental")
    assert (s.updated, s.conflicts) == (1, 1)
    machine = store.state.machines["cmdb-001"]
    assert (machine.ip, machine.rack) == ("10.0.0.1", "r7")  # the IP kept, the rack applied
    assert [(c["field"], c["current"], c["incoming"]) for c in machine.conflicts] == [
        ("ip", "10.0.0.1", "10.9.9.9")]
    (conflict,) = store.events(msg.MachineConflictDetected.TYPE)
    assert (conflict.data["cluster"], conflict.data["field"]) == ("a", "ip")
    assert store.events(msg.MachineUpdated.TYPE)[-1].data["ip"] == "10.0.0.1"


def test_a_full_sync_retires_a_free_machine_the_cmdb_lost_but_only_flags_a_member():
    store, cmdb = synced(record(1), record(2), record(3))
    with_clusters(store, "a")
    send(store, assign("cmdb-002", "a"))
    del cmdb.records["cmdb-001"], cmdb.records["cmdb-002"]
    _, uow = factory(store)
    s = SyncRunner(uow, lambda: cmdb).run("full")
    assert (s.retired, s.conflicts, s.unchanged) == (1, 1, 1)
    machines = store.state.machines
    assert (machines["cmdb-001"].state, machines["cmdb-002"].state) == ("retired", "available")
    assert machines["cmdb-002"].conflicts[0]["incoming"] == "missing from the CMDB"
    assert [e.data["reason"] for e in store.events(msg.MachineRetired.TYPE)] == ["missing from the CMDB"]


def test_a_sync_that_fails_part_way_keeps_the_pages_it_applied():
    store, cmdb = Store(), FakeCmdb(page_size=1)
    cmdb.put(record(1), record(2))

    class Broken(FakeCmdb):
        def pages(self, cursor):
            pages = super().pages(cursor)
            yield next(pages)
            raise ConnectionError("CMDB went away")

    broken = Broken(records=cmdb.records, page_size=1, changed=cmdb.changed)
    _, uow = factory(store)
    s = SyncRunner(uow, lambda: broken).run("full")
    assert not s.ok and "CMDB went away" in s.error and s.added == 1
    assert list(store.state.machines) == ["cmdb-001"]
    assert store.events(msg.SyncFinished.TYPE)[0].data["ok"] is False


# -- configs and REST handlers ------------------------------------------------------------------
def test_p3_a_render_that_breaks_rkes_rules_is_refused_and_nothing_is_stored():
    store, _ = synced(record(1), record(2))
    with_clusters(store, "a")
    send(store, assign("cmdb-001", "a", ("etcd", "controlplane", "worker")))
    render = msg.StoreConfig(change_id=CHANGE, cluster="a", kind="cluster.yml", render=True)
    assert send(store, render) == msg.ConfigVersioned.TYPE
    send(store, assign("cmdb-002", "a", ("etcd",)))  # two etcd nodes: an even count
    assert send(store, render) == msg.CommandRefused.TYPE
    assert refusals(store) == ["invalid-cluster-config"]
    assert [(r.kind, r.version) for r in store.state.configs] == [("cluster.yml", 1)]
    nodes = yaml.safe_load(BOX.open(store.state.configs[0].content))["nodes"]  # sealed at rest (M5)
    assert [(n["hostname_override"], n["address"]) for n in nodes] == [("m001", "10.0.0.1")]


def test_a_secret_config_must_come_sealed():
    store, _ = synced()
    with_clusters(store, "a")
    plain = msg.StoreConfig(change_id=CHANGE, cluster="a", kind="cluster.rkestate", content="{}")
    assert send(store, plain) == msg.CommandRefused.TYPE
    sealed = msg.StoreConfig(change_id=CHANGE, cluster="a", kind="cluster.rkestate",
                             content_sealed=BOX.seal('{"currentState": {}}'))
    assert send(store, sealed) == msg.ConfigVersioned.TYPE
    (row,) = store.state.configs
    assert row.sealed and BOX.open(row.content) == '{"currentState": {}}'


def test_a_cluster_name_is_registered_once_and_the_refusal_names_the_field():
    store = Store()
    with_clusters(store, "a")
    with pytest.raises(Conflict) as taken:
        with_clusters(store, "a")
    assert (taken.value.slug, taken.value.extensions["field"]) == ("cluster-exists", "name")
    with pytest.raises(Invalid) as bad:
        handlers.register_cluster(registration("b", pod_cidr="10.42.0.1/16"), FakeUnitOfWork(store), box=BOX)
    assert bad.value.extensions["field"] == "pod_cidr"
    assert list(store.state.clusters) == ["a"] and len(store.events(msg.ClusterRegistered.TYPE)) == 1


def test_c1_an_unsafe_kubeconfig_is_refused_on_register_and_update_and_nothing_is_stored():
    store = Store()
    unsafe = kubeconfigs.exec_kubeconfig(Path("/nonexistent/marker"))
    uow = FakeUnitOfWork(store)
    with pytest.raises(Invalid) as refused:
        handlers.register_cluster(registration("a", kubeconfig=unsafe), uow, box=BOX)
    assert (refused.value.slug, refused.value.extensions) == ("unsafe-kubeconfig", {"field": "kubeconfig"})
    assert not uow.committed and store.state.clusters == {} and store.outbox == []
    with_clusters(store, "a")
    before = (len(store.outbox), store.state.clusters["a"].version)
    uow = FakeUnitOfWork(store)
    with pytest.raises(Invalid) as refused:
        handlers.update_cluster(UpdateCluster("a", {"kubeconfig": unsafe, "bgp_as": 64512}, 'W/"1"', "op"), uow,
                                box=BOX)
    assert refused.value.slug == "unsafe-kubeconfig" and not uow.committed
    assert (len(store.outbox), store.state.clusters["a"].version) == before and store.state.configs == []


def test_c1_an_rkestate_whose_kube_admin_config_is_unsafe_is_refused_and_nothing_is_stored():
    store, _ = synced(record(1))
    with_clusters(store, "a")
    node = {"address": "10.0.0.1", "user": "root", "role": ["etcd", "controlplane", "worker"]}
    yml = yaml.safe_dump({"nodes": [node]})
    admin = kubeconfigs.text(kubeconfigs.with_user(kubeconfigs.cert_doc(), {"tokenFile": "/etc/shadow"}))
    state = json.dumps({"currentState": {"certificatesBundle": {"kube-admin": {"config": admin}}}})
    uow = FakeUnitOfWork(store)
    with pytest.raises(Invalid) as refused:
        handlers.import_cluster(ImportCluster("a", "files", "op", yml, state), uow, box=BOX)
    assert (refused.value.slug, refused.value.extensions) == ("unsafe-kubeconfig", {"field": "rkestate"})
    assert not uow.committed and store.state.memberships == {} and store.state.configs == []
    assert store.state.clusters["a"].kubeconfig_sealed is None


def test_a_cluster_update_needs_the_version_the_caller_read():
    store = Store()
    with_clusters(store, "a")
    for if_match, status in [(None, 428), ('W/"7"', 412)]:
        uow = FakeUnitOfWork(store)
        with pytest.raises(Problem) as refused:
            handlers.update_cluster(UpdateCluster("a", {"bgp_as": 64512}, if_match, "op"), uow, box=BOX)
        assert refused.value.status == status and not uow.committed
    view = handlers.update_cluster(UpdateCluster("a", {"bgp_as": 64512}, 'W/"1"', "op"), FakeUnitOfWork(store),
                                   box=BOX)
    assert (view["bgp_as"], view["version"]) == (64512, 2)
    assert store.events(msg.ClusterUpdated.TYPE)[0].data["bgp_as"] == 64512


# -- signed commands (C2) --------------------------------------------------------------------
@pytest.mark.parametrize("signed_by,slug", [(None, "unsigned-command"), ("intruder", "bad-signature"),
                                            ("inventory", "bad-signature")])
def test_c2_a_membership_command_not_signed_by_the_orchestrator_is_refused_and_nothing_changes(signed_by, slug):
    """Any publisher could name a change id; only the orchestrator's signature makes it
    the orchestrator's word (the inventory's own key signs executor jobs, not this)."""
    store, _ = synced(record(1))
    with_clusters(store, "a")
    before = (copy.deepcopy(store.state.memberships), len(store.outbox))
    assert send(store, assign("cmdb-001", "a"), signed_by=signed_by) == msg.CommandRefused.TYPE
    assert refusals(store) == [slug]
    assert (store.state.memberships, len(store.outbox) - 1) == before
    assert send(store, assign("cmdb-001", "a")) == msg.MembershipChanged.TYPE  # signed: applied


def test_c2_the_executor_jobs_the_inventory_sends_are_signed_with_its_key():
    store, _ = synced(record(1))
    asked = handlers.gather_facts(GatherFacts(["m001"], "op"), FakeUnitOfWork(store))
    [run] = [e for e in store.outbox if e.type == ex.ExecutorRun.TYPE and e.id == asked["job_id"]]
    assert Verifier(parse_signers(trusted("inventory"))).verify(run) == "inventory"


# -- the executor's results -------------------------------------------------------------------
def test_facts_from_the_executor_land_on_their_machine_once():
    store, _ = synced(record(1))
    asked = handlers.gather_facts(GatherFacts(["m001"], "op"), FakeUnitOfWork(store))
    assert asked["targets"] == ["cmdb-001"] and asked["skipped"] == []
    done = Envelope.of(ex.TargetFinished(job_id=asked["job_id"], host="cmdb-001", status="succeeded",
                                         duration_s=0.1, result={"facts": {"hardware": {"cpu": 64}}}),
                       source="executor", id=f"t-{uuid.uuid4().hex}")
    jobs.take_result(done, FakeUnitOfWork(store))
    jobs.take_result(done, FakeUnitOfWork(store))  # redelivered
    machine = store.state.machines["cmdb-001"]
    assert machine.facts == {"hardware": {"cpu": 64}} and machine.facts_at is not None
    assert len(store.events(msg.MachineUpdated.TYPE)) == 1


# -- the fakes stand in for the real thing -------------------------------------------------------
def test_the_repositories_and_their_fakes_offer_what_the_service_layer_relies_on():
    pairs = [(ports.Machines, repository.MachineRepository, fakes.FakeMachines),
             (ports.Clusters, repository.ClusterRepository, fakes.FakeClusters),
             (ports.Memberships, repository.MembershipRepository, fakes.FakeMemberships),
             (ports.Configs, repository.ConfigRepository, fakes.FakeConfigs),
             (ports.Jobs, repository.JobRepository, fakes.FakeJobs),
             (ports.SyncCursors, repository.SyncCursorRepository, fakes.FakeSyncCursors)]
    for protocol, real, fake in pairs:
        wanted = {n for n in vars(protocol) if not n.startswith("_")}
        assert wanted <= set(dir(real)) and wanted <= set(dir(fake)), protocol.__name__
    unit = {n for n in vars(ports.UnitOfWork) if not n.startswith("_")} | set(ports.UnitOfWork.__annotations__)
    assert unit <= set(dir(InventoryUnitOfWork)) | set(InventoryUnitOfWork.__annotations__)
    assert unit <= set(dir(fakes.FakeUnitOfWork(Store()).__enter__()))


def test_a_sync_another_replica_holds_is_skipped_without_reading_the_cmdb():
    store, cmdb = Store(), FakeCmdb()
    cmdb.put(record(1))
    _, uow = factory(store)
    opened: list[str] = []

    def source() -> FakeCmdb:
        opened.append("cmdb")
        return cmdb

    asked: list[tuple[str, float]] = []

    def held_elsewhere(name: str, wait_s: float):
        asked.append((name, wait_s))
        return contextlib.nullcontext(False)

    assert SyncRunner(uow, source, held_elsewhere).run("full", wait_s=0) is None
    assert opened == [] and asked == [("cmdb-sync", 0)]
