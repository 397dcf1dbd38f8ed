"""M8: a change locks every machine it may touch, not only its targets. An etcd snapshot
(no targets; it touches every etcd node) holds the cluster's etcd node, so a change on
that node is refused ``machine-locked`` while it is open; an RKE1 node.add (``rke up``
reaches every node of the cluster) holds the cluster's existing nodes too. A change on
another cluster is not held back. Real NATS and database; the orchestrator's REST API."""
from __future__ import annotations

from .conftest import Orchestrator


def _refused_locked(response, holder: str) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"].endswith("/machine-locked") and holder in response.text, body


def test_m8_an_etcd_snapshot_locks_the_etcd_nodes_it_touches(orch: Orchestrator):
    o = orch
    etcd_node, worker = f"{o.tag}b001", f"{o.tag}b002"  # rke1 cluster: b001 is etcd + controlplane
    r = o.create(type="etcd.snapshot", cluster=o.rke1, targets=[], params={"snapshot_name": f"snap-{o.tag}"})
    assert r.status_code == 201, r.text
    snapshot = r.json()
    assert etcd_node in snapshot["plan"]["blast_radius"]["hosts"] and snapshot["targets"] == []
    _refused_locked(o.create(type="node.update", cluster=o.rke1, targets=[etcd_node],
                             params={"labels": {"team": "a"}}), snapshot["id"])
    dry = o.create(type="node.update", cluster=o.rke1, targets=[etcd_node], params={"labels": {"team": "a"}},
                   dry_run=True)
    assert dry.status_code == 200 and snapshot["id"] in " ".join(dry.json()["plan"]["warnings"]), dry.text
    other = o.create(type="node.update", cluster=o.rke2, targets=[f"{o.tag}a002"], params={"labels": {"team": "a"}})
    assert other.status_code == 201, other.text
    assert worker not in snapshot["plan"]["blast_radius"]["hosts"]


def test_m8_an_rke1_node_add_locks_the_clusters_existing_nodes(orch: Orchestrator):
    o = orch
    r = o.create(type="node.add", cluster=o.rke1, targets=[f"{o.tag}f001"], params={"role": "worker"})
    assert r.status_code == 201, r.text
    add = r.json()
    existing = f"{o.tag}b002"
    assert existing in add["plan"]["blast_radius"]["hosts"]
    _refused_locked(o.create(type="node.remove", cluster=o.rke1, targets=[existing], params={}), add["id"])
