"""M10: when ``rke up`` fails, the rkestate it wrote is kept. The executor seals the state
whatever the outcome; the orchestrator stores it at once as a new version of the
cluster's state (``failed-run``), so a retry runs rke from what the failed run left (after
a half-done certificate rotation the old state no longer matches the cluster), not from the
state before it. Real NATS and database, the test playing the executor and the inventory."""
from __future__ import annotations

from autorke_common import claims
from autorke_common.catalogue.inventory import ConfigVersioned

from .conftest import Orchestrator
from .test_node_add import answer_memberships


def _stores(o: Orchestrator, cid: str, kind: str) -> list:
    return [e for e in o.driver.inventory_commands(cid)
            if e.type == "inventory.config.store" and e.data["kind"] == kind]


def to_rke_up(o: Orchestrator, host: str) -> tuple[str, object]:
    """An rke1 node.add of ``host`` taken to its rke run: (change id, the rke job)."""
    r = o.create(type="node.add", cluster=o.rke1, targets=[host], params={"role": "worker"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    o.driver.finish(o.driver.wait_run(cid, "preflight"))
    o.wait_status(cid, "awaiting_approval")
    assert o.approve(cid).status_code == 200
    o.driver.finish(o.driver.wait_run(cid, "init"))
    answer_memberships(o, cid, o.rke1, 1)
    yml = o.driver.wait(lambda: _stores(o, cid, "cluster.yml"), what="cluster.yml store")[0]
    o.driver.publish(ConfigVersioned(cluster=o.rke1, kind="cluster.yml", version=2, content_hash="h",
                                     created_by="orchestrator", change_id=cid, command_id=yml.id), cid)
    return cid, o.driver.wait_run(cid, "up_update_only")


def test_m10_a_failed_rke_runs_state_is_stored_and_the_retry_starts_from_it(orch: Orchestrator):
    o = orch
    cid, up = to_rke_up(o, f"{o.tag}f006")
    o.driver.finish(up, failed={"rke": "rke up failed after rotating certificates"},
                    results={"rke": {"rkestate": "sealed-half-rotated-state"}})
    o.wait_status(cid, "failed")
    kept = o.driver.wait(lambda: _stores(o, cid, "cluster.rkestate"), what="the failed run's state stored")[0]
    assert kept.data["content_sealed"] == "sealed-half-rotated-state"
    assert kept.data["comment"].startswith("failed-run")
    o.driver.publish(ConfigVersioned(cluster=o.rke1, kind="cluster.rkestate", version=2, content_hash="s",
                                     created_by="orchestrator", change_id=cid, command_id=kept.id,
                                     content_sealed="sealed-half-rotated-state"), cid)

    def kept_in_read_model() -> bool:
        with o.db().unit_of_work() as uow:
            from autorke_orchestrator.adapters.orm import ClusterViewRow
            row = uow.session.get(ClusterViewRow, o.rke1)
            return (row.configs_sealed or {}).get("cluster.rkestate", {}).get("sealed") == "sealed-half-rotated-state"
    o.driver.wait(kept_in_read_model, what="the kept state in the orchestrator's read model")
    r = o.client.post(f"/api/v1/changes/{cid}:retry", headers=o.headers("operator"))
    assert r.status_code == 200, r.text
    again = o.driver.wait_run(cid, "up_update_only", attempt=2)
    kept_ref = claims.reference("orchestrator", claims.digest_of("sealed-half-rotated-state"))
    assert again.secrets["rkestate"] == kept_ref, "the retry starts from the failed run's state (sent as a claim)"
