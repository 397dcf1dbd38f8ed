"""Config writes of the REST API as changes (H1, H2, M5), on the in-memory unit of work:
options from an allow-list, proposals kept sealed until an approved change adopts them,
the preview an approver reads (the real, redacted diff), and what a viewer sees."""
from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from autorke_common.catalogue import inventory as msg
from autorke_common.envelope import Envelope
from autorke_common.errors import Invalid, Problem
from autorke_common.secrets import SecretBox
from autorke_common.signing import Verifier, parse_signers
from autorke_inventory.bootstrap import command_handlers
from autorke_inventory.domain import options as cluster_options
from autorke_inventory.domain.commands import ChangeOptions, ImportCluster, RegisterCluster, RollbackConfig
from autorke_inventory.domain.records import SourcePage, SourceRecord
from autorke_inventory.service_layer import handlers, messagebus, views
from autorke_inventory.service_layer.sync import SyncRunner
from fixtures.secret_keys import secret_key
from fixtures.signing import sign, trusted

from .fakes import FakeUnitOfWork, Store, factory

BOX = SecretBox(secret_key("inventory-config-changes"))
CHANGE = "chg-unit"
VERIFIER = Verifier(parse_signers(trusted()))


class OneMachineCmdb:
    name = "cmdb"

    def pages(self, cursor: str | None):
        yield SourcePage([SourceRecord("cmdb-001", "m001", "10.0.0.1", False, rack="r1",
                                       data={"ssh": {"address": "10.0.0.1", "host_key": "ssh-ed25519 AAAA"}})],
                         "1", more=False)

    def close(self) -> None:
        pass


def one_machine() -> Store:
    store = Store()
    _, uow = factory(store)
    assert SyncRunner(uow, OneMachineCmdb).run("full").ok
    return store


def registration(name: str, **fields: Any) -> RegisterCluster:
    data = {"name": name, "provider": "rke", "api_endpoint": None, "kubeconfig": None, "join_address": None,
            "join_token": None, "host_networks": [], "pod_cidr": "10.42.0.0/16", "service_cidr": "10.43.0.0/16",
            "bgp_as": None, "bastion": None, "options": {}}
    return RegisterCluster({**data, **fields}, "admin")


def send(store: Store, command: msg.Command | None = None, env: Envelope | None = None) -> str:
    """As the orchestrator sends it: signed (C2)."""
    env = sign(env or Envelope.of(command, source="orchestrator", correlation_id=CHANGE, actor="op"))
    _, uow = factory(store)
    return messagebus.handle_command(env, uow, command_handlers(BOX), VERIFIER)


def registered() -> Store:
    store = one_machine()
    handlers.register_cluster(registration("a"), FakeUnitOfWork(store), box=BOX)
    return store


class FakeChanges:
    """The orchestrator: records what was asked for, answers a change view."""

    def __init__(self, refuse: Exception | None = None) -> None:
        self.asked: list[dict[str, Any]] = []
        self.refuse = refuse

    def create(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        if self.refuse:
            raise self.refuse
        return {"id": CHANGE, "type": request["type"], "status": "running", "params": request["params"]}


def cluster_with_member() -> Store:
    store = registered()
    member = msg.AssignMembership(change_id=CHANGE, machine="cmdb-001", cluster="a",
                                  roles=["etcd", "controlplane", "worker"])
    assert send(store, member) == msg.MembershipChanged.TYPE
    return store


def preview(store: Store, change: dict, actor: str = "op") -> Envelope:
    p = change["params"]
    command = msg.PreviewConfig(change_id=change["id"], cluster="a", proposal=p["proposal"], digest=p["digest"])
    send(store, env=Envelope.of(command, source="orchestrator", correlation_id=change["id"], actor=actor))
    return store.events()[-1]


def adopt(store: Store, change: dict, actor: str = "op") -> Envelope:
    p = change["params"]
    command = msg.AdoptConfig(change_id=change["id"], cluster="a", proposal=p["proposal"], digest=p["digest"])
    send(store, env=Envelope.of(command, source="orchestrator", correlation_id=change["id"], actor=actor))
    return store.events()[-1]


# -- H1: the options schema ------------------------------------------------------------------
@pytest.mark.parametrize("options, field", [
    ({"nodes": [{"address": "10.9.9.9", "user": "root", "role": ["worker"]}]}, "options.nodes"),
    ({"bastion_host": {"address": "10.9.9.9"}}, "options.bastion_host"),
    ({"ssh_key_path": "/root/.ssh/id_rsa"}, "options.ssh_key_path"),
    ({"ssh_agent_auth": True}, "options.ssh_agent_auth"),
    ({"addons": "kind: Pod"}, "options.addons"),
    ({"addons_include": ["https://evil/x.yaml"]}, "options.addons_include"),
    ({"cluster_name": "other"}, "options.cluster_name"),
    ({"services": {"kube-api": {"extra_args": {"authorization-mode": "AlwaysAllow"}}}},
     "options.services.kube-api.extra_args.authorization-mode"),
    ({"private_registries": [{"url": "r.example", "user": "u", "password": "p"}]}, "options.private_registries.0.user"),
    ({"services": {"etcd": {"backup_config": {"s3backupconfig": {"secret_key": "s"}}}}},
     "options.services.etcd.backup_config.s3backupconfig"),
])
def test_h1_options_outside_the_allow_list_are_refused_with_the_field(options, field):
    with pytest.raises(Invalid) as refused:
        cluster_options.checked(options)
    assert refused.value.slug == "invalid-cluster-options"
    assert refused.value.extensions["field"] == field


def test_h1_register_with_options_outside_the_schema_stores_nothing():
    store = Store()
    uow = FakeUnitOfWork(store)
    with pytest.raises(Invalid) as refused:
        handlers.register_cluster(registration("a", options={"nodes": []}), uow, box=BOX)
    assert refused.value.slug == "invalid-cluster-options" and not uow.committed
    assert store.state.clusters == {} and store.outbox == []


def test_h1_refused_options_make_no_proposal_and_no_change():
    store = cluster_with_member()
    changes = FakeChanges()
    with pytest.raises(Invalid):
        handlers.change_options(ChangeOptions("a", {"nodes": []}, 'W/"1"', "op"), FakeUnitOfWork(store),
                                box=BOX, changes=changes)
    assert changes.asked == [] and store.state.proposals == {}


def test_h1_an_options_change_is_a_change_whose_preview_shows_the_real_diff_and_nothing_is_current_before():
    store = cluster_with_member()
    send(store, msg.StoreConfig(change_id=CHANGE, cluster="a", kind="cluster.yml", render=True))
    changes = FakeChanges()
    new = {"services": {"kube-api": {"extra_args": {"audit-log-maxage": "30"}}}}
    change = handlers.change_options(ChangeOptions("a", new, 'W/"1"', "op", "Bearer op-token"),
                                     FakeUnitOfWork(store), box=BOX, changes=changes)
    [asked] = changes.asked
    assert (asked["type"], asked["cluster"], asked["authorization"]) == ("config.update", "a", "Bearer op-token")
    assert set(asked["params"]) == {"proposal", "digest", "kinds"} and "audit" not in json.dumps(asked)
    assert store.state.clusters["a"].options == {}  # nothing current until approved
    assert store.state.proposals[asked["params"]["proposal"]].change_id == CHANGE

    answer = preview(store, change)
    assert answer.type == msg.ConfigPreviewed.TYPE
    diffs = {d["kind"]: d for d in answer.data["diffs"]}
    assert "+      audit-log-maxage: '30'" in diffs["cluster.yml"]["diff"]  # the rendered cluster.yml
    assert "service_cluster_ip_range" not in diffs["cluster.yml"]["diff"].replace(" service_cluster", "")
    assert diffs["cluster.yml"]["from_version"] == 1
    assert store.state.clusters["a"].options == {} and len(store.state.configs) == 1

    adopted = adopt(store, change)
    assert adopted.type == msg.ConfigAdopted.TYPE and adopted.data["versions"] == [{"kind": "cluster.yml",
                                                                                  "version": 2}]
    assert store.state.clusters["a"].options == new
    latest = store.state.configs[-1]
    assert latest.change_id == CHANGE and "audit-log-maxage" in BOX.open(latest.content)
    kube_api = yaml.safe_load(BOX.open(latest.content))["services"]["kube-api"]
    assert kube_api["service_cluster_ip_range"] == "10.43.0.0/16"  # merged, not replaced


# -- H2: import and rollback -----------------------------------------------------------------
def files() -> tuple[str, str]:
    node = {"address": "10.0.0.1", "user": "root", "role": ["etcd", "controlplane", "worker"],
            "hostname_override": "m001"}
    state = {"currentState": {"certificatesBundle": {"kube-ca": {"certificatePEM": "CA-1", "keyPEM": "KEY-1"}}}}
    return yaml.safe_dump({"nodes": [node], "ssh_key": "-----BEGIN PRIVATE KEY-----"}), json.dumps(state)


def test_h2_an_import_stores_nothing_current_until_its_change_adopts_it():
    store = registered()
    yml, state = files()
    changes = FakeChanges()
    change = handlers.import_cluster(ImportCluster("a", "files", "op", yml, state), FakeUnitOfWork(store), box=BOX,
                                     changes=changes)
    assert changes.asked[0]["params"]["kinds"] == ["cluster.yml", "cluster.rkestate"]
    assert "KEY-1" not in json.dumps(changes.asked)
    assert store.state.configs == [] and store.state.memberships == {}
    [proposal] = store.state.proposals.values()
    assert "KEY-1" not in proposal.content and "BEGIN PRIVATE" not in proposal.content  # sealed

    answer = preview(store, change)
    shown = json.dumps(answer.data)
    assert "KEY-1" not in shown and "BEGIN PRIVATE" not in shown
    rkestate = next(d for d in answer.data["diffs"] if d["kind"] == "cluster.rkestate")
    assert rkestate["certificates"]["current.kube-ca"]["change"] == "added" and rkestate["ca_changes"] is True
    assert [m["machine"] for m in answer.data["matched"]] == ["cmdb-001"]
    assert store.state.configs == [] and store.state.memberships == {}

    adopt(store, change)
    assert [(r.kind, r.version, r.change_id, r.sealed) for r in store.state.configs] == [
        ("cluster.yml", 1, CHANGE, True), ("cluster.rkestate", 1, CHANGE, True)]
    assert store.state.memberships["cmdb-001"].change_id == CHANGE


def test_h2_a_proposal_is_adopted_only_by_its_own_change_with_its_digest_and_after_a_preview():
    store = registered()
    yml, state = files()
    change = handlers.import_cluster(ImportCluster("a", "files", "op", yml, state), FakeUnitOfWork(store), box=BOX,
                                     changes=FakeChanges())
    assert adopt(store, change).data["problem"] == "proposal-not-previewed"
    other = {**change, "id": "chg-other"}
    assert preview(store, other).data["problem"] == "proposal-taken"
    forged = {**change, "params": {**change["params"], "digest": "sha256:" + "0" * 64}}
    assert preview(store, forged).data["problem"] == "proposal-mismatch"
    assert store.state.configs == [] and store.state.memberships == {}


def test_h2_a_version_stored_after_the_preview_refuses_the_adoption():
    store = registered()
    yml = files()[0]
    change = handlers.import_cluster(ImportCluster("a", "files", "op", yml, None), FakeUnitOfWork(store), box=BOX,
                                     changes=FakeChanges())
    preview(store, change)
    send(store, msg.StoreConfig(change_id="chg-rke", cluster="a", kind="cluster.yml", content=yml))
    assert adopt(store, change).data["problem"] == "config-changed-since-preview"
    assert [r.change_id for r in store.state.configs] == ["chg-rke"]


def test_h2_a_rollback_is_a_change_and_the_old_content_becomes_current_only_when_adopted():
    store = cluster_with_member()
    render = msg.StoreConfig(change_id="chg-a", cluster="a", kind="cluster.yml", render=True)
    send(store, render)
    send(store, msg.StoreConfig(change_id="chg-b", cluster="a", kind="cluster.yml", content=files()[0]))
    change = handlers.rollback_config(RollbackConfig("a", "cluster.yml", 1, "op"), FakeUnitOfWork(store), box=BOX,
                                      changes=FakeChanges())
    assert change["params"]["version"] == 1 and len(store.state.configs) == 2
    answer = preview(store, change)
    assert "-ssh_key: <redacted:" in answer.data["diffs"][0]["diff"]
    adopt(store, change)
    latest = store.state.configs[-1]
    assert (latest.version, latest.rollback_of, latest.change_id) == (3, 1, CHANGE)


def test_h2_a_change_the_orchestrator_refuses_leaves_no_proposal():
    store = cluster_with_member()
    send(store, msg.StoreConfig(change_id="chg-a", cluster="a", kind="cluster.yml", render=True))
    refusal = Problem("forbidden", "Forbidden", 403)
    with pytest.raises(Problem):
        handlers.rollback_config(RollbackConfig("a", "cluster.yml", 1, "op"), FakeUnitOfWork(store), box=BOX,
                                 changes=FakeChanges(refusal))
    assert store.state.proposals == {} and len(store.state.configs) == 1


# -- M5: what a viewer sees ------------------------------------------------------------------
def test_m5_options_and_the_rendered_cluster_yml_are_redacted_for_a_viewer():
    store = cluster_with_member()
    # options stored before the schema refused secrets
    store.state.clusters["a"].options = {"private_registries": [{"url": "r", "password": "hunter2"}]}
    shown = json.dumps(views.cluster(FakeUnitOfWork(store), "a"))
    assert "hunter2" not in shown and "<redacted:" in shown
    rendered = views.rendered_cluster_yml(FakeUnitOfWork(store), "a")
    assert "hunter2" not in rendered["content"] and rendered["redacted"] is True


def test_m5_an_imported_cluster_yml_is_sealed_at_rest_and_shown_redacted():
    store = cluster_with_member()
    yml = files()[0]
    send(store, msg.StoreConfig(change_id="chg-a", cluster="a", kind="cluster.yml", content=yml))
    [row] = store.state.configs
    assert row.sealed and "BEGIN PRIVATE" not in row.content
    shown = views.config_version(FakeUnitOfWork(store), BOX, "a", "cluster.yml", 1)
    assert "BEGIN PRIVATE" not in shown["content"] and "ssh_key: <redacted:" in shown["content"]
