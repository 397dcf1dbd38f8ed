"""C2 in docker-compose.yml: NATS runs the configuration ``autorke nats-config`` writes
(users with permissions, TLS from mounted secrets, JetStream on the data volume), every
service reaches it over ``tls://`` verifying the CA, and mounts its own credentials only."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from autorke_common import natsdeploy
from autorke_common.natsauth import DASHBOARDS, SERVICES, USERS

from .test_compose import compose

NATS_DIR = "${AUTORKE_NATS_DIR:-./.autorke/nats-deploy}"


def secrets_of(svc: dict) -> dict[str, str]:
    """The service's secrets: name -> where the container sees it."""
    return {name: f"/run/secrets/{name}" for name in svc.get("secrets", [])}


def generated(tmp_path: Path, doc: dict) -> dict:
    """The server configuration as the README tells to write it for compose."""
    mounted = secrets_of(doc["services"]["nats"])
    natsdeploy.run(argparse.Namespace(
        out=tmp_path, listen="0.0.0.0:4222", store_dir="/data", monitor_port=8222, self_signed_tls="nats",
        tls_cert=mounted["autorke_nats_tls_cert"], tls_key=mounted["autorke_nats_tls_key"], cluster_routes=None))
    return json.loads((tmp_path / "nats-server.conf").read_text())


def test_c2_compose_nats_runs_with_users_permissions_tls_and_jetstream_on_its_volume(tmp_path):
    doc = compose()
    nats = doc["services"]["nats"]
    mounted = secrets_of(nats)
    assert nats["command"] == ["-c", mounted["autorke_nats_conf"]]
    assert doc["secrets"]["autorke_nats_conf"]["file"] == f"{NATS_DIR}/nats-server.conf"
    assert doc["secrets"]["autorke_nats_tls_cert"]["file"] == f"{NATS_DIR}/tls/server.crt"
    assert doc["secrets"]["autorke_nats_tls_key"]["file"] == f"{NATS_DIR}/tls/server.key"
    assert "nats-data:/data" in nats["volumes"]
    assert "ports" not in nats, "the bus answers on the compose network only"
    config = generated(tmp_path, doc)
    assert config["jetstream"] == {"store_dir": "/data"}
    assert config["tls"]["cert_file"] == mounted["autorke_nats_tls_cert"]
    assert config["tls"]["key_file"] == mounted["autorke_nats_tls_key"]
    assert f":{config['http_port']}/healthz" in " ".join(nats["healthcheck"]["test"])
    users = config["authorization"]["users"]
    assert len(users) == len(USERS) and all(u["nkey"].startswith("U") and u["permissions"] for u in users)
    assert "no_auth_user" not in config and "default_permissions" not in config["authorization"]
    assert (tmp_path / "tls" / "ca.crt").exists() and not (tmp_path / "tls" / "ca.key").exists()


def test_c2_each_compose_service_verifies_the_server_and_mounts_only_its_own_credentials():
    doc = compose()
    for name in SERVICES:
        svc = doc["services"][name]
        env, mounted = svc["environment"], secrets_of(svc)
        assert env["AUTORKE_NATS_URL"].startswith("tls://nats:")
        assert env["AUTORKE_NATS_TLS_CA_FILE"] == mounted["autorke_nats_ca"]
        assert env["AUTORKE_NATS_CREDENTIALS"] == mounted[f"autorke_nats_{name}"]
        assert doc["secrets"][f"autorke_nats_{name}"]["file"] == f"{NATS_DIR}/creds/{name}.nk"
        bus_creds = {s for s in mounted if s.startswith("autorke_nats_") and s != "autorke_nats_ca"}
        assert bus_creds == {f"autorke_nats_{name}"}, f"{name} mounts {bus_creds}"
    assert not any(f"{DASHBOARDS}.nk" in str(s.get("file")) for s in doc["secrets"].values()), \
        "the dashboards user is for dashboards, not for a service"
