"""``autorke up``'s database flags: a schema prefix is a plain identifier start, so it can
go into each service's ``search_path`` unquoted."""
from __future__ import annotations

import argparse

import pytest

from autorke_common.supervisor import register


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["up", *argv])


def test_schema_prefix_is_accepted_and_defaults_to_none():
    assert parse().db_schema_prefix == ""
    assert parse("--database-url", "postgresql://x/y", "--db-schema-prefix", "ci_1a_").db_schema_prefix == "ci_1a_"


@pytest.mark.parametrize("bad", ["Ci", "a-b", "a;drop", "x" * 42, "1a"])
def test_schema_prefix_outside_identifiers_is_refused(bad, capsys):
    with pytest.raises(SystemExit):
        parse("--db-schema-prefix", bad)
    assert "--db-schema-prefix" in capsys.readouterr().err


def test_replicas_need_postgresql_and_a_nats_cluster_is_embedded(tmp_path, capsys):
    from autorke_common.supervisor import run_up
    assert parse("--replicas", "2", "--nats-cluster", "3").replicas == 2
    assert run_up(parse("--data-dir", str(tmp_path), "--replicas", "2")) == 2
    assert "--database-url" in capsys.readouterr().err
    assert run_up(parse("--data-dir", str(tmp_path), "--nats-cluster", "3", "--nats-url", "nats://x:4222")) == 2
    assert "--nats-url" in capsys.readouterr().err
    assert not (tmp_path / "children.json").exists(), "a refused start starts nothing"


@pytest.mark.parametrize("flags", [("--replicas", "5"), ("--replicas", "0"), ("--nats-cluster", "2")])
def test_replica_and_cluster_counts_outside_the_range_are_refused(flags):
    with pytest.raises(SystemExit):
        parse(*flags)


def test_replica_ports_and_urls_and_the_cluster_nodes_never_collide():
    from autorke_common.platform_env import DEFAULT_PORTS, MAX_REPLICAS, nats_nodes, replica_port, service_urls
    taken = [replica_port(p, i) for n, p in DEFAULT_PORTS.items() for i in range(MAX_REPLICAS)
             if n in ("console", "inventory", "orchestrator", "executor", "netcfg")]
    taken += [p for n, p in DEFAULT_PORTS.items() if n not in ("console", "inventory", "orchestrator", "executor",
                                                              "netcfg", "nats")]
    taken += [q for node in nats_nodes(DEFAULT_PORTS["nats"], 5) for q in (node.client_port, node.route_port,
                                                                           node.monitor_port)]
    assert len(taken) == len(set(taken))
    urls = service_urls(DEFAULT_PORTS, 2)
    assert urls["AUTORKE_ORCHESTRATOR_URL"] == "http://127.0.0.1:8102,http://127.0.0.1:8122"


def test_a_cluster_node_routes_to_the_others_over_verified_tls():
    import json

    from autorke_common.natsauth import ClusterNode, ServerTls, server_config
    tls = ServerTls("/t/server.crt", "/t/server.key", "/t/ca.crt")
    config = json.loads(server_config({}, cluster=ClusterNode("nats-1", "127.0.0.1:4261",
                                                                ("127.0.0.1:4260", "127.0.0.1:4262"), tls)))
    assert config["server_name"] == "nats-1"
    assert config["cluster"]["routes"] == ["nats-route://127.0.0.1:4260", "nats-route://127.0.0.1:4262"]
    assert config["cluster"]["tls"] == {"cert_file": "/t/server.crt", "key_file": "/t/server.key",
                                        "ca_file": "/t/ca.crt", "verify": True, "timeout": 5}
