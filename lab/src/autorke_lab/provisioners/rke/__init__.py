"""The ``rke`` stand-in (RKE1's CLI on the control host): reads cluster.yml and
cluster.rkestate, validates like RKE, deploys each role's components on every node over
SSH, writes the state and kubeconfig. Invocation and the lab key: :mod:`.cli`, :mod:`.config`.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

CONSOLE_SCRIPT = "autorke-lab-rke"


def rke_path() -> Path:
    """Absolute path of the ``autorke-lab-rke`` executable (next to this interpreter)."""
    beside = Path(sys.executable).with_name(CONSOLE_SCRIPT)
    if beside.exists():
        return beside
    found = shutil.which(CONSOLE_SCRIPT)
    if found is None:
        raise FileNotFoundError(f"{CONSOLE_SCRIPT} is not installed (uv sync --all-packages)")
    return Path(found)
