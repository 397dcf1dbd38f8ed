"""C2 in docker-compose.yml: each signer mounts only its own signing key, and the executor,
the inventory and netcfg are given the public keys they trust (from the environment, as
``python -m autorke_common.signing`` prints them; compose refuses to start without); each
claim holder the keys of its readers, and each reader the holders' addresses."""
from __future__ import annotations

from .test_compose import compose, service_folders

KEYS = {"orchestrator": "autorke_signing_orchestrator", "inventory": "autorke_signing_inventory",
        "executor": "autorke_signing_executor"}


def test_c2_each_signer_mounts_only_its_own_signing_key():
    doc = compose()
    for name in service_folders():
        svc = doc["services"][name]
        held = {s for s in svc.get("secrets", []) if s.startswith("autorke_signing_")}
        env = svc.get("environment", {})
        if name in KEYS:
            assert held == {KEYS[name]}, name
            assert env["AUTORKE_SIGNING_KEY_FILE"] == f"/run/secrets/{KEYS[name]}"
        else:
            assert not held and "AUTORKE_SIGNING_KEY_FILE" not in env, name
    assert set(KEYS.values()) <= set(doc["secrets"])


def test_c2_the_services_that_obey_commands_require_their_trusted_signers():
    services = compose()["services"]
    for name in ("executor", "inventory", "netcfg"):
        value = services[name]["environment"]["AUTORKE_COMMAND_SIGNERS"]
        assert value.startswith(f"${{AUTORKE_{name.upper()}_COMMAND_SIGNERS:?"), value
    assert all("AUTORKE_COMMAND_SIGNERS" not in services[n].get("environment", {})
               for n in service_folders() - {"executor", "inventory", "netcfg"})


def test_claim_holders_require_their_readers_and_readers_know_the_holders():
    services = compose()["services"]
    for name in ("orchestrator", "inventory", "executor"):
        value = services[name]["environment"]["AUTORKE_CLAIM_READERS"]
        assert value.startswith(f"${{AUTORKE_{name.upper()}_CLAIM_READERS:?"), value
    executor, inventory = services["executor"]["environment"], services["inventory"]["environment"]
    assert executor["AUTORKE_ORCHESTRATOR_URL"] and executor["AUTORKE_INVENTORY_URL"]
    assert inventory["AUTORKE_EXECUTOR_URL"]
