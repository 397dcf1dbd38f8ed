"""``autorke up`` hands the lab's published provisioners to the executor: with them an
operator can add nodes to the lab clusters; without them (no lab clusters) the executor
keeps its real-world defaults."""
from __future__ import annotations

from autorke_common.platform_env import DEFAULT_PORTS, lab_environment


def test_the_labs_provisioners_become_the_executors_settings():
    lab = {"components": {"clusters": {"clusters": [], "provisioners": {
        "rke_binary": "/venv/bin/autorke-lab-rke",
        "rke2_install_command": "env INSTALL_RKE2_TYPE=agent python -m autorke_lab.provisioners.rke2.install"}}}}
    env = lab_environment(lab, DEFAULT_PORTS)
    assert env["AUTORKE_RKE_BINARY"] == "/venv/bin/autorke-lab-rke"
    assert env["AUTORKE_RKE2_INSTALL_COMMAND"].endswith("-m autorke_lab.provisioners.rke2.install")


def test_a_lab_without_clusters_leaves_the_executor_defaults():
    env = lab_environment({"components": {"clusters": {"skipped": "disabled", "provisioners": {}}}}, DEFAULT_PORTS)
    assert "AUTORKE_RKE_BINARY" not in env and "AUTORKE_RKE2_INSTALL_COMMAND" not in env
    assert env["AUTORKE_INVENTORY_URL"] == f"http://127.0.0.1:{DEFAULT_PORTS['inventory']}"
