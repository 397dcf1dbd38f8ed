"""docker-compose.yml stays true to the tree (no Docker engine runs here, so the file is
checked, not run): it parses, every service folder has an entry built from the one image,
each with a health check and the infrastructure it needs, and no secret is written in it."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service_folders() -> set[str]:
    return {p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists()}


def test_every_service_folder_has_a_compose_entry_from_the_one_image():
    services = compose()["services"]
    assert service_folders() <= set(services)
    for name in service_folders():
        svc = services[name]
        assert svc["image"] == "autorke:latest"
        assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert svc["command"] == ["python", "-m", f"autorke_{name}"]
        assert "healthcheck" in svc and "/readyz" in " ".join(svc["healthcheck"]["test"])
        assert set(svc["depends_on"]) == {"nats", "postgres"}
        assert (ROOT / "services" / name / "src" / f"autorke_{name}" / "__main__.py").exists()


def test_infrastructure_has_health_checks_and_volumes():
    doc = compose()
    assert doc["services"]["nats"]["command"][0] == "-c"  # JetStream, users and TLS: test_c2_compose_bus.py
    for infra in ("nats", "postgres"):
        assert "healthcheck" in doc["services"][infra]
    assert {"nats-data", "pg-data"} <= set(doc["volumes"])


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for key in ("AUTORKE_SECRET_KEY", "POSTGRES_PASSWORD", "AUTORKE_VCALICO_SECRET"):
        for value in re.findall(rf"^\s*{key}:\s*(\S+)", text, re.MULTILINE):
            assert value.startswith("${"), f"{key} must come from the environment, not {value}"


def test_dockerfile_installs_every_service_package():
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    for name in service_folders():
        assert f"--package autorke-{name}" in dockerfile


SEALING = {"inventory", "executor", "netcfg"}


def test_m6_the_secret_key_is_a_docker_secret_of_the_sealing_services_only():
    doc = compose()
    services = doc["services"]
    for name in service_folders():
        svc = services[name]
        env, held = svc.get("environment", {}), set(svc.get("secrets", []))
        assert "AUTORKE_SECRET_KEY" not in env, f"{name}: the key is never an environment variable"
        if name in SEALING:
            assert "autorke_secret_key" in held
            assert env["AUTORKE_SECRET_KEY_FILE"] == "/run/secrets/autorke_secret_key"
        else:
            assert "autorke_secret_key" not in held and "AUTORKE_SECRET_KEY_FILE" not in env, name
    console = services["console"]
    assert "autorke_session_secret" in console["secrets"]
    assert console["environment"]["AUTORKE_SESSION_SECRET_FILE"] == "/run/secrets/autorke_session_secret"
    assert all("autorke_session_secret" not in services[n].get("secrets", []) for n in service_folders() - {"console"})
    assert {"autorke_secret_key", "autorke_session_secret"} <= set(doc["secrets"])


def test_l2_only_the_console_is_published_on_the_host():
    services = compose()["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"console"}, f"published on the host: {published}"
    assert services["console"]["ports"] == ["8080:8080"]
    for name in service_folders() - {"console"}:
        port = services[name]["environment"]["AUTORKE_PORT"]
        assert services[name]["expose"] == [port], f"{name} answers on the compose network only"
