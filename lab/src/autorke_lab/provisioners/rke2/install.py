"""``autorke-lab-rke2-install``: what ``curl -sfL https://get.rke2.io | INSTALL_RKE2_TYPE=agent
sh -`` does, for a lab machine. Run over SSH on the machine (its /etc, /var, /opt and
/usr/local are its own), it installs:

- ``/usr/local/bin/rke2`` — runs :mod:`.agent` with this interpreter;
- ``/usr/local/bin/rke2-uninstall.sh`` — stops the agent, removes the unit, config, data
  and binaries (the Node then goes NotReady on the API server and can be deleted);
- ``/usr/local/lib/systemd/system/rke2-agent.service`` — ``ExecStart=/usr/local/bin/rke2
  agent``, for the machine's systemctl stand-in.

It does not start anything: the executor then writes ``/etc/rancher/rke2/config.yaml``
and runs ``systemctl enable --now rke2-agent``, as with the real installer. Options come
from the environment like the real script (``INSTALL_RKE2_TYPE``; lab-only:
``AUTORKE_LAB_KUBE_DIR``, where lab clusters keep their ``ca.crt``, and
``AUTORKE_LAB_HEARTBEAT_S``, the simulated kubelet's heartbeat).
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from ..interpreter import machine_python

BIN = Path("/usr/local/bin")
UNIT = Path("/usr/local/lib/systemd/system/rke2-agent.service")

UNINSTALL = """#!/bin/sh
# rke2-uninstall.sh (AutoRKE lab): stop the agent, remove everything the install created.
set -x
systemctl disable --now rke2-agent
rm -f /usr/local/lib/systemd/system/rke2-agent.service
rm -rf /etc/rancher/rke2 /var/lib/rancher/rke2 /var/lib/kubelet
rm -f /usr/local/bin/rke2 /usr/local/bin/rke2-uninstall.sh
"""


def install_command(kube_dir: Path, heartbeat_s: float = 5.0) -> str:
    """The shell command the executor runs on a lab machine instead of the curl|sh."""
    python, env = machine_python()
    return shlex.join([
        "env", "INSTALL_RKE2_TYPE=agent", f"AUTORKE_LAB_KUBE_DIR={kube_dir}",
        f"AUTORKE_LAB_HEARTBEAT_S={heartbeat_s}", *(f"{k}={v}" for k, v in env.items()),
        python, "-m", "autorke_lab.provisioners.rke2.install",
    ])


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def main() -> int:
    kind = os.environ.get("INSTALL_RKE2_TYPE", "server")
    if kind != "agent":
        print(f"[ERROR] lab RKE2 installs agents only, not {kind!r}", file=sys.stderr)
        return 1
    kube_dir = os.environ.get("AUTORKE_LAB_KUBE_DIR", "")
    heartbeat = os.environ.get("AUTORKE_LAB_HEARTBEAT_S", "5")
    pythonpath = os.environ.get("PYTHONPATH", "")
    rke2 = (f"#!/bin/sh\nexport PYTHONPATH={shlex.quote(pythonpath)}\n"
            f'exec {shlex.quote(sys.executable)} -m autorke_lab.provisioners.rke2.agent "$@"\n')
    _write(BIN / "rke2", rke2, 0o755)
    _write(BIN / "rke2-uninstall.sh", UNINSTALL, 0o755)
    env = shlex.join([f"AUTORKE_LAB_KUBE_DIR={kube_dir}", f"AUTORKE_LAB_HEARTBEAT_S={heartbeat}"])
    _write(UNIT, (
        "[Unit]\nDescription=Rancher Kubernetes Engine v2 (agent)\n\n"
        f"[Service]\nEnvironment={env}\nExecStart=/usr/local/bin/rke2 agent\n\n"
        "[Install]\nWantedBy=multi-user.target\n"), 0o644)
    print("[INFO]  finding release for channel stable\n[INFO]  using v1.30.4+rke2r1 (lab)")
    print("[INFO]  installing rke2 agent to /usr/local")
    return 0


if __name__ == "__main__":
    sys.exit(main())
