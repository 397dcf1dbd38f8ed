"""``autorke-lab-rke2-install``: what ``curl -sfL https://get.rke2.io | INSTALL_RKE2_TYPE=agent
sh -`` (or ``=server``) does, for a lab machine. Run over SSH on the machine (its /etc,
/var, /opt and /usr/local are its own), it installs:

- ``/usr/local/bin/rke2`` — runs :mod:`.agent` with this interpreter;
- ``/usr/local/bin/rke2-uninstall.sh`` — stops the agent or server, removes the units,
  config, data and binaries (the Node then goes NotReady on the API server and can be
  deleted);
- ``/usr/local/lib/systemd/system/rke2-<type>.service`` — ``ExecStart=/usr/local/bin/rke2
  <type>``, for the machine's systemctl stand-in.

A lab "server" is the same simulated kubelet as an agent, registered with the server role
labels (control-plane, etcd, master) and writing the server's ``node-token``: the lab API
stand-in plays the part of the servers' API and supervisor (see :mod:`.agent`).

It does not start anything: the executor then writes ``/etc/rancher/rke2/config.yaml``
and runs ``systemctl enable --now rke2-agent`` (``rke2-server``), as with the real
installer. Options come from the environment like the real script (``INSTALL_RKE2_TYPE``,
default ``server`` as the real script's; lab-only:
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
UNIT_DIR = Path("/usr/local/lib/systemd/system")
TYPES = ("agent", "server")

UNINSTALL = """#!/bin/sh
# rke2-uninstall.sh (AutoRKE lab): stop the agent, remove everything the install created.
set -x
systemctl disable --now rke2-agent rke2-server
rm -f /usr/local/lib/systemd/system/rke2-agent.service /usr/local/lib/systemd/system/rke2-server.service
rm -rf /etc/rancher/rke2 /var/lib/rancher/rke2 /var/lib/kubelet
rm -f /usr/local/bin/rke2 /usr/local/bin/rke2-uninstall.sh
"""


def install_command(kube_dir: Path, heartbeat_s: float = 5.0, kind: str = "agent") -> str:
    """The shell command the executor runs on a lab machine instead of the curl|sh."""
    if kind not in TYPES:
        raise ValueError(f"INSTALL_RKE2_TYPE must be one of {TYPES}, not {kind!r}")
    python, env = machine_python()
    return shlex.join([
        "env", f"INSTALL_RKE2_TYPE={kind}", f"AUTORKE_LAB_KUBE_DIR={kube_dir}",
        f"AUTORKE_LAB_HEARTBEAT_S={heartbeat_s}", *(f"{k}={v}" for k, v in env.items()),
        python, "-m", "autorke_lab.provisioners.rke2.install",
    ])


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def main() -> int:
    kind = os.environ.get("INSTALL_RKE2_TYPE", "server")
    if kind not in TYPES:
        print(f"[ERROR] INSTALL_RKE2_TYPE must be agent or server, not {kind!r}", file=sys.stderr)
        return 1
    kube_dir = os.environ.get("AUTORKE_LAB_KUBE_DIR", "")
    heartbeat = os.environ.get("AUTORKE_LAB_HEARTBEAT_S", "5")
    pythonpath = os.environ.get("PYTHONPATH", "")
    rke2 = (f"#!/bin/sh\nexport PYTHONPATH={shlex.quote(pythonpath)}\n"
            f'exec {shlex.quote(sys.executable)} -m autorke_lab.provisioners.rke2.agent "$@"\n')
    _write(BIN / "rke2", rke2, 0o755)
    _write(BIN / "rke2-uninstall.sh", UNINSTALL, 0o755)
    env = shlex.join([f"AUTORKE_LAB_KUBE_DIR={kube_dir}", f"AUTORKE_LAB_HEARTBEAT_S={heartbeat}"])
    _write(UNIT_DIR / f"rke2-{kind}.service", (
        f"[Unit]\nDescription=Rancher Kubernetes Engine v2 ({kind})\n\n"
        f"[Service]\nEnvironment={env}\nExecStart=/usr/local/bin/rke2 {kind}\n\n"
        "[Install]\nWantedBy=multi-user.target\n"), 0o644)
    print("[INFO]  finding release for channel stable\n[INFO]  using v1.30.4+rke2r1 (lab)")
    print(f"[INFO]  installing rke2 {kind} to /usr/local")
    return 0


if __name__ == "__main__":
    sys.exit(main())
