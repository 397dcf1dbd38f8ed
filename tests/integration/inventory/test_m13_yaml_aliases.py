"""Operator YAML with anchors or aliases is refused where it enters (M13): a cluster.yml
import carrying a billion-laughs block is a 422 that stores nothing, answered at once."""
from __future__ import annotations

import time

import yaml

from .conftest import LabCmdb

LAUGHS = "\n".join(["lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                   + [f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)])


def cluster_yml(address: str) -> str:
    return yaml.safe_dump({"cluster_name": "laughs", "nodes": [
        {"address": address, "user": "root", "role": ["etcd", "controlplane", "worker"],
         "hostname_override": "laughs-n1"}]}) + LAUGHS + "\n"


def test_m13_yaml_aliases_are_refused(make_inventory, cmdb: LabCmdb):
    inv = make_inventory(cmdb.url)
    assert inv.post("/api/v1/machines:sync", json={"mode": "full", "wait": True}).status_code == 200
    target = inv.get("/api/v1/machines/cmdb-000007").json()
    assert inv.post("/api/v1/clusters", json={"name": "laughs", "provider": "rke"}).status_code == 201
    started = time.monotonic()
    r = inv.post("/api/v1/clusters/laughs:import", json={"cluster_yml": cluster_yml(target["ip"])})
    assert time.monotonic() - started < 10
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"].endswith("/invalid-cluster-config") and problem["rule"] == "unparsable"
    assert "anchors are not accepted" in problem["detail"]
    assert inv.get("/api/v1/clusters/laughs/configs/cluster.yml").json()["items"] == []
    assert inv.get("/api/v1/clusters/laughs/nodes").json()["items"] == []
    # without the laughs, the same import goes through: the refusal was the aliases'
    plain = cluster_yml(target["ip"]).replace(LAUGHS, "")
    ok = inv.post("/api/v1/clusters/laughs:import", json={"cluster_yml": plain})
    assert ok.status_code == 202 and ok.json()["type"] == "config.import", ok.text

