"""The ``rke`` stand-in (RKE1's CLI on the control host): reads cluster.yml and
cluster.rkestate, validates like RKE, deploys each role's components on every node over
SSH, writes the state and kubeconfig. Invocation and the lab key: :mod:`.cli`, :mod:`.config`.

The platform runs it through :func:`write_wrapper`'s script: the cluster.yml the inventory
renders names no lab file and no SSH key (options may not: H1), so the script tells the
stand-in, per cluster name, where the lab API's kubeconfig, the known_hosts and the SSH key
are (``AUTORKE_LAB_RKE_CONFIG``, set by the script itself: the executor runs rke with a
minimal environment).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

CONSOLE_SCRIPT = "autorke-lab-rke"
CONFIG_ENV = "AUTORKE_LAB_RKE_CONFIG"


def write_wrapper(directory: Path, clusters: dict[str, dict[str, str]]) -> Path:
    """An executable ``rke`` in ``directory`` that runs the stand-in with the lab's files of
    each cluster (``{name: {"kubeconfig", "known_hosts", "ssh_key_path"}}``); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "lab-rke.json"
    config.write_text(json.dumps({"clusters": clusters}, indent=2))
    script = directory / "rke"
    script.write_text(f"#!/bin/sh\n{CONFIG_ENV}={shlex.quote(str(config))} exec "
                      f"{shlex.quote(str(rke_path()))} \"$@\"\n")
    os.chmod(script, 0o755)
    return script


def rke_path() -> Path:
    """Absolute path of the ``autorke-lab-rke`` executable (next to this interpreter)."""
    beside = Path(sys.executable).with_name(CONSOLE_SCRIPT)
    if beside.exists():
        return beside
    found = shutil.which(CONSOLE_SCRIPT)
    if found is None:
        raise FileNotFoundError(f"{CONSOLE_SCRIPT} is not installed (uv sync --all-packages)")
    return Path(found)
