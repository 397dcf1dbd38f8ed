"""``autorke nats-config --cluster-routes``: the one configuration every node of a NATS
cluster reads (deploy/kubernetes/overlays/ha) routes to each node over mutual TLS, with a
CA of the routes' own and a certificate that names every node and proves either end."""
from __future__ import annotations

import json

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from autorke_common.cli import main

HOSTS = [f"nats-{i}.nats-cluster" for i in range(3)]


def nats_config(out, *more: str) -> dict:
    assert main(["nats-config", "--out", str(out), "--self-signed-tls", "nats", "--tls-cert", "/etc/nats/server.crt",
                 "--tls-key", "/etc/nats/server.key", *more]) == 0
    return json.loads((out / "nats-server.conf").read_text())


def test_the_cluster_block_routes_to_every_node_over_mutual_tls(tmp_path):
    config = nats_config(tmp_path, "--cluster-routes", ",".join(HOSTS),
                         "--route-names", "nats-0.nats-cluster.autorke", "--route-tls-dir", "/etc/nats-routes")
    cluster = config["cluster"]
    assert cluster["listen"] == "0.0.0.0:6222"
    assert cluster["routes"] == [f"nats-route://{host}:6222" for host in HOSTS]
    assert cluster["tls"] == {"cert_file": "/etc/nats-routes/server.crt", "key_file": "/etc/nats-routes/server.key",
                              "ca_file": "/etc/nats-routes/ca.crt", "verify": True, "timeout": 5}
    assert "server_name" not in config, "each node is named by its --name, not by the file they share"

    tls = tmp_path / "routes" / "tls"
    cert = x509.load_pem_x509_certificate((tls / "server.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((tls / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca != x509.load_pem_x509_certificate((tmp_path / "tls" / "ca.crt").read_bytes()), "a CA of the routes' own"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert {*HOSTS, "nats-0.nats-cluster.autorke"} <= set(names)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
    assert not (tls / "ca.key").exists() and (tmp_path / "routes" / "ca" / "ca.key").stat().st_mode & 0o077 == 0
    assert (tls / "server.key").stat().st_mode & 0o077 == 0


def test_run_again_it_keeps_the_route_certificate_and_without_routes_there_is_no_cluster(tmp_path):
    nats_config(tmp_path, "--cluster-routes", ",".join(HOSTS))
    cert = (tmp_path / "routes" / "tls" / "server.crt").read_bytes()
    config = nats_config(tmp_path, "--cluster-routes", ",".join(HOSTS))
    assert (tmp_path / "routes" / "tls" / "server.crt").read_bytes() == cert
    assert config["cluster"]["tls"]["ca_file"] == str((tmp_path / "routes" / "tls" / "ca.crt").resolve())
    assert "cluster" not in nats_config(tmp_path / "single")
    assert not (tmp_path / "single" / "routes").exists()
