"""Node profiles and the label mapping (issue 18) on in-memory fakes: a write stores the
normalised spec as the next version and announces it in the same unit of work, a write
that changes nothing stores nothing, a refusal names the field and leaves the store as it
was; and the machine events carry the facts node labels come from."""
from __future__ import annotations

import copy
import uuid

import pytest

from autorke_common.catalogue import executor as ex
from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.errors import Conflict, Invalid, Missing
from autorke_common.node_profiles import DEFAULT_PROFILE, MachineFacts
from autorke_inventory.adapters import repository
from autorke_inventory.domain.commands import GatherFacts, StoreDocument
from autorke_inventory.domain.records import SourceRecord
from autorke_inventory.service_layer import handlers, jobs, views
from autorke_inventory.service_layer import unit_of_work as ports
from autorke_inventory.service_layer.sync import SyncRunner

from . import fakes
from .fakes import FakeUnitOfWork, Store, factory
from .test_handlers import BOX, FakeCmdb, registration


def cluster(provider: str = "rke2", name: str = "c1") -> Store:
    store = Store()
    handlers.register_cluster(registration(name, provider=provider), FakeUnitOfWork(store), box=BOX)
    return store


def put(store: Store, spec: dict, name: str = "default", kind: str = "node-profile", **kw) -> tuple[dict, bool]:
    return handlers.store_document(StoreDocument("c1", kind, name, spec, "alice", **kw), FakeUnitOfWork(store))


def versioned(store: Store) -> list[Envelope]:
    return store.events(msg.NodeProfileVersioned.TYPE)


def test_a_profile_is_stored_normalised_as_the_next_version_and_announced():
    store = cluster()
    stored, created = put(store, {"labels": {"team": "ml"}}, comment="ml nodes")
    assert created and (stored["version"], stored["builtin"], stored["created_by"]) == (1, False, "alice")
    assert stored["spec"]["init_profile"] == "container-runtime" and stored["spec"]["labels"] == {"team": "ml"}
    [event] = versioned(store)
    assert (event.data["name"], event.data["version"], event.data["comment"]) == ("default", 1, "ml nodes")
    assert event.data["spec"] == stored["spec"]

    again, created = put(store, {"labels": {"team": "ml"}, "taints": []})  # the same once normalised
    assert not created and again["version"] == 1 and len(versioned(store)) == 1
    second, created = put(store, {"labels": {"team": "ml"}, "kubelet": {"max_pods": 200}}, expected_version=1)
    assert created and second["version"] == 2 and len(versioned(store)) == 2


@pytest.mark.parametrize(("provider", "spec", "field"), [
    ("rke2", {"labels": {"Bad Key!": "x"}}, "spec.labels.Bad Key!"),
    ("rke2", {"kubelet": {"max_pods": 5}}, "spec.kubelet.max_pods"),
    ("rke2", {"unknown": 1}, "spec.unknown"),
    ("rke", {"kubelet": {"max_pods": 110}}, "spec.kubelet"),
])
def test_a_refused_profile_names_the_field_and_stores_nothing(provider, spec, field):
    store = cluster(provider)
    before = copy.deepcopy(store.state)
    with pytest.raises(Invalid) as refused:
        put(store, spec)
    assert (refused.value.slug, refused.value.extensions["field"]) == ("invalid-node-profile", field)
    assert store.state.documents == before.documents == [] and versioned(store) == []


def test_names_and_the_single_label_mapping_are_checked():
    store = cluster()
    with pytest.raises(Invalid) as bad_name:
        put(store, {}, name="Bad_Name")
    assert bad_name.value.extensions["field"] == "name"
    with pytest.raises(Invalid) as second_mapping:
        put(store, {}, name="other", kind="label-mapping")
    assert second_mapping.value.extensions["field"] == "name"
    with pytest.raises(Missing):
        handlers.store_document(StoreDocument("nope", "node-profile", "default", {}, "alice"), FakeUnitOfWork(store))
    assert store.state.documents == []


def test_a_write_on_a_version_the_caller_did_not_read_is_a_conflict():
    store = cluster()
    put(store, {"labels": {"a": "1"}}, expected_version=0)
    with pytest.raises(Conflict) as stale:
        put(store, {"labels": {"a": "2"}}, expected_version=0)
    assert stale.value.slug == "version-conflict" and stale.value.extensions["current_version"] == 1
    assert [r.version for r in store.state.documents] == [1] and len(versioned(store)) == 1


def test_the_builtin_default_is_version_zero_until_one_is_stored():
    store = cluster()
    [builtin] = views.documents_latest(FakeUnitOfWork(store), "c1", "node-profile", 10, None)["items"]
    assert (builtin["name"], builtin["version"], builtin["builtin"]) == ("default", 0, True)
    assert builtin["spec"] == DEFAULT_PROFILE.model_dump()
    put(store, {"init_profile": "gpu"}, name="gpu")
    names = [(d["name"], d["version"]) for d in views.documents_latest(FakeUnitOfWork(store), "c1",
                                                                       "node-profile", 10, None)["items"]]
    assert names == [("default", 0), ("gpu", 1)]
    first = views.documents_latest(FakeUnitOfWork(store), "c1", "node-profile", 1, None)
    rest = views.documents_latest(FakeUnitOfWork(store), "c1", "node-profile", 1, first["next_cursor"])
    assert [d["name"] for d in first["items"] + rest["items"]] == ["default", "gpu"] and not rest["next_cursor"]
    put(store, {"description": "ours"})
    latest = views.documents_latest(FakeUnitOfWork(store), "c1", "node-profile", 10, None)["items"]
    assert [(d["name"], d["version"]) for d in latest] == [("default", 1), ("gpu", 1)]
    diff = views.document_diff(FakeUnitOfWork(store), "c1", "node-profile", "default", 0, 1)["diff"]
    assert "+description: ours" in diff and diff.startswith("--- default@0\n+++ default@1\n")


def test_the_fake_documents_offer_what_the_service_layer_relies_on():
    wanted = {n for n in vars(ports.Documents) if not n.startswith("_")}
    assert wanted <= set(dir(repository.DocumentRepository)) and wanted <= set(dir(fakes.FakeDocuments))


# -- machine facts in machine events -------------------------------------------------------
def gpu_record(rack: str = "r1") -> SourceRecord:
    return SourceRecord("cmdb-001", "m001", "10.0.0.1", False, rack=rack, site="SH-IDC1", gpu_model="A100",
                        gpu_count=8, data={"ssh": {"address": "10.0.0.1", "host_key": "ssh-ed25519 AAAA"}})


def test_machine_events_carry_the_facts_labels_come_from():
    store, cmdb = Store(), FakeCmdb()
    cmdb.put(gpu_record())
    _, uow = factory(store)
    SyncRunner(uow, lambda: cmdb).run("full")
    [added] = store.events(msg.MachineAdded.TYPE)
    facts = MachineFacts(rack="r1", idc="SH-IDC1", gpu_model="A100", gpu_count=8)
    assert msg.MachineAdded.model_validate(added.data).facts == facts
    cmdb.put(gpu_record(rack="r2"))
    SyncRunner(uow, lambda: cmdb).run("incremental")
    [updated] = store.events(msg.MachineUpdated.TYPE)
    assert updated.data["facts"] == {**facts.model_dump(), "rack": "r2"}

    asked = handlers.gather_facts(GatherFacts(["m001"], "op"), FakeUnitOfWork(store))
    jobs.take_result(Envelope.of(ex.TargetFinished(job_id=asked["job_id"], host="cmdb-001", status="succeeded",
                                                   duration_s=0.1, result={"facts": {}}),
                                 source="executor", id=f"t-{uuid.uuid4().hex}"), FakeUnitOfWork(store))
    refreshed = store.events(msg.MachineUpdated.TYPE)[-1]
    assert refreshed.data["fields"] == ["facts"] and refreshed.data["facts"]["rack"] == "r2"
