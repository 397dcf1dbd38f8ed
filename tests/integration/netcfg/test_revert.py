"""Reverting a ticket, the compensation of a node.add's network steps, driven over the bus
as the orchestrator drives it (every command signed by it, the change id as the
correlation id), against the lab VCalico and a lab cluster's Kubernetes API: plan (the
racks read from the label the node.add names), approve, VCalico's callback, confirm,
applied; then revert, and the pool, the BGP peers and the labels and annotations netcfg
wrote are gone from the cluster (read with the official client), while a ``rack`` label
the node carried before stays."""
from __future__ import annotations

import time
import uuid

from kubernetes import client

from autorke_common.catalogue.netcfg import ApproveTicket, ConfirmTicket, PlanTicket, PoolSpec, RevertTicket
from autorke_common.envelope import Envelope
from fixtures.signing import sign

from .conftest import G, V, add_node, pools_in, wait_for
from .test_flatten import node_meta, status_of, wait_status

RACK_LABEL = "autorke.io/rack"
NETCFG_KEYS = ("network.autorke.io/flat", "network.autorke.io/ticket", "route-reflector",
               "projectcalico.org/ASNumber", "projectcalico.org/RouteReflectorClusterID")


def test_a_reverted_ticket_leaves_the_cluster_as_it_was_before_apply(netcfg, cluster):
    lab, api = cluster
    core, co = client.CoreV1Api(api), client.CustomObjectsApi(api)
    add_node(api, "w5", "10.20.1.13", None)            # a new node: its rack only under the node.add's label
    for name in ("w1", "w5"):
        core.patch_node(name, {"metadata": {"labels": {RACK_LABEL: "r1"}}})
    before = {name: node_meta(api, name) for name in ("w1", "w5")}
    change_id, tid = f"chg-{uuid.uuid4().hex[:8]}", f"nt-{uuid.uuid4().hex[:12]}"

    def send(message) -> Envelope:
        envelope = sign(Envelope.of(message, source="orchestrator", correlation_id=change_id))
        netcfg.publish(envelope)
        return envelope

    send(PlanTicket(ticket_id=tid, cluster=lab.name, nodes=["w1", "w5"], route_reflectors=["w1"],
                    pool_name="node-add-pool", pool=PoolSpec(cidr="10.130.0.0/16", blockSize=26),
                    requested_by="operator", rack_label=RACK_LABEL))
    planned = wait_status(netcfg, tid, "planned")
    assert [n["rack"] for n in planned["plan"]["nodes"]] == ["r1", "r1"]
    send(ApproveTicket(ticket_id=tid, approved_by="approver"))
    wait_status(netcfg, tid, "callback_received")
    send(ConfirmTicket(ticket_id=tid, confirmed_by="approver"))
    wait_status(netcfg, tid, "applied")
    assert [p["name"] for p in pools_in(api)] == ["node-add-pool"]
    assert node_meta(api, "w5")[0]["rack"] == "r1"     # netcfg wrote it: the peers select by it
    assert co.list_cluster_custom_object(G, V, "bgppeers")["items"]

    revert = send(RevertTicket(ticket_id=tid, requested_by="orchestrator"))
    answer = wait_for(lambda: next((e for e in netcfg.events("autorke.events.netcfg.ticket.reverted", 0.2)
                                    if e.data["ticket_id"] == tid), None))
    assert answer.correlation_id == change_id
    assert answer.data["removed"] == {"peers": [f"{lab.name}-rr-mesh", f"{lab.name}-tor-r1"],
                                      "pools": ["node-add-pool"], "nodes": ["w1", "w5"],
                                      "bgp_configuration": ["default"]}
    assert status_of(netcfg, tid)["status"] == "reverted"
    # what the cluster holds now, read with the official client
    assert pools_in(api) == []
    assert co.list_cluster_custom_object(G, V, "bgppeers")["items"] == []
    bgp = co.list_cluster_custom_object(G, V, "bgpconfigurations")["items"]
    assert all(c["spec"].get("nodeToNodeMeshEnabled") is not False for c in bgp), "the node-to-node mesh is back"
    for name in ("w1", "w5"):
        labels, annotations = node_meta(api, name)
        assert (labels, annotations) == before[name]
        assert not set(NETCFG_KEYS) & (set(labels) | set(annotations))
    assert node_meta(api, "w1")[0]["rack"] == "r1" and "rack" not in node_meta(api, "w5")[0]

    netcfg.publish(revert)                             # the same command again: one effect
    send(RevertTicket(ticket_id=tid, requested_by="orchestrator"))         # a new one: answered again

    def answers() -> list[Envelope]:
        return [e for e in netcfg.events("autorke.events.netcfg.ticket.reverted", 0.2) if e.data["ticket_id"] == tid]

    wait_for(lambda: len(answers()) >= 2)
    time.sleep(1.0)                                    # the redelivered one had its chance to answer
    assert [a.data["removed"] for a in answers()] == [answer.data["removed"]] * 2
    types = [e.type for e in netcfg.events("autorke.events.netcfg.>")
             if e.data.get("ticket_id") == tid or e.data.get("pool") == "node-add-pool"]
    assert types[-4:] == ["netcfg.ticket.applied", "netcfg.ippool.deleted", "netcfg.ticket.reverted",
                          "netcfg.ticket.reverted"]
